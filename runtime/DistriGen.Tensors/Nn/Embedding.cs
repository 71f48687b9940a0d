namespace DistriGen.Tensors.Nn;

/// <summary>A lookup table of <c>rows</c> vectors (parameter "weight", (rows, dim)), as torch's nn.Embedding.</summary>
public class Embedding : Module
{
    public Embedding(int rows, int dim) => Weight = Tensor.Parameter(rows, dim);

    public Tensor Weight { get; }

    public int Rows => Weight.Dim(0);
    public int Dim => Weight.Dim(1);

    public override IEnumerable<(string Name, Tensor Tensor)> OwnParameters()
    {
        yield return ("weight", Weight);
    }

    /// <summary>(batch, length, dim) for <paramref name="ids"/> of batch × length rows.</summary>
    public Tensor Forward(ReadOnlySpan<int> ids, int batch, int length) => NonFiniteTrace.After(this, Ops.Ops.Embedding(Weight, ids, batch, length));
}

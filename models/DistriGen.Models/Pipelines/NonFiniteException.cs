using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Pipelines;

/// <summary>A generation produced NaN or infinite values: where (the step, the part of the loop, the first layer when found).</summary>
public sealed class NonFiniteException(string message) : Exception(message)
{
    /// <summary>Throws when <paramref name="input"/> is not finite: it would make every step non-finite.</summary>
    public static void CheckInput(Tensor? input, string what)
    {
        if (input is null || Ops.AllFinite(input)) return;
        throw new NonFiniteException($"non-finite values before step 1: {what} {Tensor.Format(input.Shape)} holds NaN or infinite values " +
            $"(the first at index {Ops.FirstNonFinite(input)}).");
    }

    /// <summary>
    /// Runs <paramref name="forward"/> again with every layer of <paramref name="model"/> traced, and says
    /// which layer's output was the first to be non-finite.
    /// </summary>
    public static string FirstLayer(Module model, string prefix, Func<Tensor> forward)
    {
        using var trace = NonFiniteTrace.Begin(model, prefix);
        using (var scope = new TensorScope()) forward();
        return trace.FirstLayer is { } layer ? $"first in {layer}" : "no single layer's output was non-finite on one device";
    }
}

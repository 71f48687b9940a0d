using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;

namespace DistriGen.Testing;

/// <summary>
/// A patch-parallel variant whose output differs from the single device's by more than the tolerance.
/// </summary>
public sealed class PatchParallelMismatchException(string message) : Exception(message);

/// <summary>
/// Checks, in a user's own tests, that a model's generated patch-parallel variant computes what the model computes.
/// </summary>
public static class PatchParallelAssert
{
    /// <summary>
    /// Builds the model twice with <paramref name="create"/> (the second gets the first's weights), runs
    /// <paramref name="forward"/> on one device and on <paramref name="ranks"/> in-process ranks in Exact mode
    /// on <paramref name="input"/> (N, C, H, W; H cut into row bands in multiples of the model's
    /// <see cref="IPatchParallel.BandAlignment"/>), gathers the ranks' output bands and returns the largest
    /// absolute difference; throws <see cref="PatchParallelMismatchException"/> (naming that difference)
    /// above <paramref name="tolerance"/>.
    /// </summary>
    public static double ExactMatchesSingleDevice<TModel>(Func<TModel> create, Func<TModel, Tensor, Tensor> forward,
        Tensor input, int ranks, double tolerance = 1e-5) where TModel : Module
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        if (input.Rank != 4) throw new ArgumentException($"The input must be (N, C, H, W); it is {Tensor.Format(input.Shape)}.", nameof(input));
        var model = create();
        if (model is not IPatchParallel<TModel> parallel)
            throw new ArgumentException($"{typeof(TModel).Name} is not [PatchParallel] (or its generated part is missing).", nameof(create));
        float[] single;
        using (var scope = new TensorScope()) single = forward(model, input).ToArray();

        var twin = create();
        twin.LoadStateDict(DictionaryTensorSource.Of(model));
        var layout = new BandLayout(input.Dim(2), input.Dim(3), ranks, parallel.BandAlignment);
        var bands = InProcessLauncher.Run(ranks, threadsPerRank: 1, comm =>
        {
            var context = new PatchContext(comm, layout, new PatchParallelOptions { Mode = ParallelMode.Exact });
            var variant = ((IPatchParallel<TModel>)twin).ToPatchParallel(context);
            context.BeginGeneration(1);
            context.BeginStep(0);
            using var scope = new TensorScope();
            var band = forward(variant, input);
            context.EndStep();
            return (band.Shape, Values: band.ToArray());
        }, TimeSpan.FromMinutes(2));

        var gathered = Gather(bands);
        if (gathered.Length != single.Length)
            throw new PatchParallelMismatchException(
                $"The {ranks} ranks' output bands hold {gathered.Length} values together, the single device's output {single.Length}: " +
                "the variant's output is not the image cut into row bands (is the convolution that reads the full input [SplitsInput]?).");
        double worst = 0;
        for (int i = 0; i < single.Length; i++)
            worst = Math.Max(worst, double.IsNaN(gathered[i] - single[i]) ? double.PositiveInfinity : Math.Abs(gathered[i] - (double)single[i]));
        if (worst > tolerance)
            throw new PatchParallelMismatchException(
                $"On {ranks} ranks in Exact mode {typeof(TModel).Name} differs from one device by up to {worst:0.###e+0} (tolerance {tolerance:0.###e+0}).");
        return worst;
    }

    /// <summary>The ranks' (N, C, rows, W) bands joined along the rows, in rank order.</summary>
    private static float[] Gather(IReadOnlyList<(int[] Shape, float[] Values)> bands)
    {
        var first = bands[0].Shape;
        if (first.Length != 4 || bands.Any(b => b.Shape.Length != 4 || b.Shape[0] != first[0] || b.Shape[1] != first[1] || b.Shape[3] != first[3]))
            return bands.SelectMany(b => b.Values).ToArray();
        int planes = first[0] * first[1], width = first[3], rows = bands.Sum(b => b.Shape[2]);
        var all = new float[planes * rows * width];
        int start = 0;
        foreach (var (shape, values) in bands)
        {
            for (int plane = 0; plane < planes; plane++)
                values.AsSpan(plane * shape[2] * width, shape[2] * width).CopyTo(all.AsSpan((plane * rows + start) * width));
            start += shape[2];
        }
        return all;
    }
}

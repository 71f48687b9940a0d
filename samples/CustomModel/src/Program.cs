using CustomModel;
using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

// Runs the user's model on one device and on 2 ranks (threads of this process) in Exact mode, and
// checks that the patch-parallel result is the single-device result.
var model = new TinyDenoiser();
model.InitializeRandom(seed: 1);
using var input = SeededNormal.Sample(2, 1, 4, 32, 24);
using var single = model.Forward(input);

foreach (var ranks in new[] { 1, 2 })
{
    // Bands are cut in multiples of what the model downsamples by (its Down conv's stride 2), as the generator
    // computed.
    var layout = new BandLayout(32, 24, ranks, model.BandAlignment);
    var outputs = InProcessLauncher.Run(ranks, threadsPerRank: 1, comm =>
    {
        using var run = PatchParallelRun.Create(comm, splitBatch: false);
        var context = new PatchContext(run.PatchGroup, layout, new PatchParallelOptions { Mode = ParallelMode.Exact });
        var variant = model.ToPatchParallel(context);
        context.BeginGeneration(1);
        context.BeginStep(0);
        using var band = variant.Forward(input);
        context.EndStep();
        return run.GatherBands(band, layout).Keep();
    });
    double diff = 0, norm = 0;
    for (int i = 0; i < single.Length; i++)
    {
        diff += Math.Pow(outputs[0].Span[i] - single.Span[i], 2);
        norm += Math.Pow(single.Span[i], 2);
    }
    double relative = Math.Sqrt(diff / norm);
    Console.WriteLine($"{ranks} rank(s), Exact: relative error {relative:0.0e+0} against single device");
    if (relative > 1e-5)
    {
        Console.Error.WriteLine("Exact patch-parallel inference does not match single-device inference.");
        return 1;
    }
}
Console.WriteLine($"communication points of TinyDenoiser: {string.Join(", ", TinyDenoiser.PatchPlan.CommunicationPoints.Select(p => p.StateName))}");
return 0;

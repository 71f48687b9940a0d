using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Torch.Tests;

/// <summary>
/// The LibTorch devices the tests run on. TorchSharp 0.107 needs GCC 13's libstdc++; these machines
/// have an older one, so the tests opt in to loading a copy with that one requirement marked weak.
/// </summary>
internal static class TorchTesting
{
    static TorchTesting() => Environment.SetEnvironmentVariable(TorchLibrary.GlibcxxFixVariable, "1");

    public static TorchDevice Cpu => TorchDevice.Cpu();

    public static TorchDevice Cpu16 => TorchDevice.Cpu("bf16");

    public static Tensor Normal(long seed, params int[] shape) => SeededNormal.Sample(seed, shape);
}

/// <summary>Tests that set the process-wide compute backend run on their own.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalStateCollection
{
    public const string Name = "Global compute state";
}

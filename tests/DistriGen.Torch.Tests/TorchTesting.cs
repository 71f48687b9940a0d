using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Torch.Tests;

/// <summary>
/// The LibTorch device the tests run on: the CPU, or with DISTRIGEN_TORCH_TEST_DEVICE=cuda GPU 0
/// (tools/device-check.sh). TorchSharp 0.107 needs GCC 13's libstdc++; these machines have an older
/// one, so the tests opt in to loading a copy with that one requirement marked weak.
/// </summary>
internal static class TorchTesting
{
    static TorchTesting() => Environment.SetEnvironmentVariable(TorchLibrary.GlibcxxFixVariable, "1");

    private static bool OnCuda => Environment.GetEnvironmentVariable("DISTRIGEN_TORCH_TEST_DEVICE") == "cuda";

    /// <summary>The device under test in fp32.</summary>
    public static TorchDevice Target => OnCuda ? TorchDevice.Cuda(0) : TorchDevice.Cpu();

    /// <summary>The device under test in bf16.</summary>
    public static TorchDevice Target16 => OnCuda ? TorchDevice.Cuda(0, "bf16") : TorchDevice.Cpu("bf16");

    /// <summary>LibTorch's CPU device (for tests of names and choices, whatever the device under test).</summary>
    public static TorchDevice Cpu => TorchDevice.Cpu();

    /// <summary>LibTorch's CPU device with 4-D tensors in channels-last memory.</summary>
    public static TorchDevice CpuChannelsLast => TorchDevice.Cpu(channelsLast: true);

    /// <summary>Loads LibTorch (with the opt-in above).</summary>
    public static void Load() => TorchLibrary.EnsureLoaded();

    public static Tensor Normal(long seed, params int[] shape) => SeededNormal.Sample(seed, shape);
}

/// <summary>Tests that set the process-wide compute backend run on their own.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalStateCollection
{
    public const string Name = "Global compute state";
}

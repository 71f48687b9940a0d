using DistriGen.Runtime.Communication;
using DistriGen.Tensors.Devices;
using DistriGen.Torch.Nccl;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DistriGen.Torch;

public static class TorchServiceCollectionExtensions
{
    /// <summary>
    /// Lets <c>DistriGenOptions.Device</c> name LibTorch devices ("torch-cpu", "cuda", "cuda:i"), and
    /// gathers CUDA ranks' bands over NCCL when every rank has it.
    /// </summary>
    public static IServiceCollection AddDistriGenTorch(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IDeviceProvider, TorchDeviceProvider>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IDeviceCommunicatorFactory, NcclCommunicatorFactory>());
        return services;
    }
}

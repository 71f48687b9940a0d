using DistriGen.Tensors.Devices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace DistriGen.Torch;

public static class TorchServiceCollectionExtensions
{
    /// <summary>Lets <c>DistriGenOptions.Device</c> name LibTorch devices ("torch-cpu", "cuda", "cuda:i").</summary>
    public static IServiceCollection AddDistriGenTorch(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IDeviceProvider, TorchDeviceProvider>());
        return services;
    }
}

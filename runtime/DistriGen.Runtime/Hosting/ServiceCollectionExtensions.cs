using DistriGen.Runtime.Communication;
using DistriGen.Tensors.Compute;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace DistriGen.Runtime;

public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers DistriGen's options, the compute backend they select and the rank launcher for this
    /// process: Open MPI when started by mpirun, otherwise ranks as threads; and the ranks' device placement.
    /// </summary>
    public static IServiceCollection AddDistriGen(this IServiceCollection services, Action<DistriGenOptions>? configure = null)
    {
        var builder = services.AddOptions<DistriGenOptions>();
        if (configure is not null) builder.Configure(configure);
        builder.Validate(o =>
        {
            o.Parallel.Validate();
            if (o.Ranks < 1) throw new OptionsValidationException(nameof(DistriGenOptions), typeof(DistriGenOptions), [$"Ranks must be at least 1, got {o.Ranks}."]);
            if (o.ThreadsPerRank < 1) throw new OptionsValidationException(nameof(DistriGenOptions), typeof(DistriGenOptions), [$"ThreadsPerRank must be at least 1, got {o.ThreadsPerRank}."]);
            return true;
        });
        services.TryAddSingleton<IComputeBackend>(sp => ComputeBackends.Select(sp.GetRequiredService<IOptions<DistriGenOptions>>().Value.Backend));
        services.TryAddSingleton<DevicePlacement>();
        services.TryAddSingleton<IRankLauncher>(sp => MpiWorld.LaunchedByMpirun
            ? ActivatorUtilities.CreateInstance<MpiRankLauncher>(sp)
            : ActivatorUtilities.CreateInstance<InProcessRankLauncher>(sp));
        return services;
    }
}

using DistriGen.Models.Pipelines;
using DistriGen.Torch;
using Microsoft.Extensions.DependencyInjection;

namespace DistriGen.Cli;

/// <summary>Composes the tool from DistriGen's services, as a user's own host would.</summary>
internal static class CliHost
{
    public static DistributedPipeline Pipeline(ParallelSetup setup) =>
        new ServiceCollection()
            .AddDistriGenPipelines(o =>
            {
                o.Ranks = setup.Ranks;
                o.ThreadsPerRank = setup.ThreadsPerRank;
                o.Backend = setup.Backend;
                o.Parallel = setup.Options;
                o.Device = setup.Device;
            })
            .AddDistriGenTorch()
            .BuildServiceProvider()
            .GetRequiredService<DistributedPipeline>();
}

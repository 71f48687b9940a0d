using DistriGen.Models.Pipelines;
using Microsoft.Extensions.DependencyInjection;

namespace DistriGen.Cli;

/// <summary>Composes the tool from DistriGen's services, as a user's own host would.</summary>
internal static class CliHost
{
    public static DistributedPipeline Pipeline(ParallelSetup setup, string backend = "auto") =>
        new ServiceCollection()
            .AddDistriGenPipelines(o =>
            {
                o.Ranks = setup.Ranks;
                o.ThreadsPerRank = setup.ThreadsPerRank;
                o.Backend = backend;
                o.Parallel = setup.Options;
            })
            .BuildServiceProvider()
            .GetRequiredService<DistributedPipeline>();
}

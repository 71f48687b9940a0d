using System.CommandLine;
using DistriGen.Cli.Commands;
using Spectre.Console;

namespace DistriGen.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args);

    /// <summary>Runs the tool; errors are one clear line on standard error and exit code 1 (stack traces with DISTRIGEN_DEBUG=1).</summary>
    public static int Run(string[] args)
    {
        CliConsole.Configure();
        var root = new RootCommand("DistriGen: fast, exact, distributed diffusion inference for .NET.")
        {
            GenerateCommand.Create(),
            EncodePromptCommand.Create(),
            CompareCommand.Create(),
            EvalUnetCommand.Create(),
            ConvertCommand.Create(),
            PlanCommand.Create(),
            BenchCommand.Create(),
        };
        using var cancellation = CliCancellation.Begin();
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            var cause = e is Runtime.Communication.RankFailedException { InnerException: { } inner } ? inner : e;
            if (cause is OperationCanceledException)
            {
                CliConsole.Error("cancelled; nothing was written.");
                return 130;
            }
            CliConsole.Error(cause.Message);
            if (Environment.GetEnvironmentVariable("DISTRIGEN_DEBUG") == "1") Console.Error.WriteLine(e);
            return 1;
        }
    }
}

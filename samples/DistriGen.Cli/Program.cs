using System.CommandLine;
using DistriGen.Cli.Commands;
using Spectre.Console;

namespace DistriGen.Cli;

public static class Program
{
    public static int Main(string[] args) => Run(args);

    /// <summary>Runs the tool; errors are one clear message and exit code 1 (stack traces with DISTRIGEN_DEBUG=1).</summary>
    public static int Run(string[] args)
    {
        var root = new RootCommand("DistriGen: fast, exact, distributed diffusion inference for .NET.")
        {
            GenerateCommand.Create(),
            EncodePromptCommand.Create(),
            CompareCommand.Create(),
            EvalUnetCommand.Create(),
            PlanCommand.Create(),
            BenchCommand.Create(),
        };
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            var root_ = e is Runtime.Communication.RankFailedException { InnerException: { } inner } ? inner : e;
            AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(root_.Message)}");
            if (Environment.GetEnvironmentVariable("DISTRIGEN_DEBUG") == "1") AnsiConsole.WriteException(e);
            return 1;
        }
    }
}

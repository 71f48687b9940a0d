using System.CommandLine;
using DistriGen.Models.Checkpoints;
using Spectre.Console;

namespace DistriGen.Cli.Commands;

/// <summary>
/// distrigen convert: a single-file checkpoint written as a diffusers folder, so it loads without conversion next time.
/// </summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var checkpoint = new Argument<string>("checkpoint") { Description = "A single-file SD 1.x/2.x/SDXL checkpoint (.safetensors, original layout)." };
        var output = new Option<string>("--out") { Description = "The diffusers folder to write.", Required = true };
        var config = ModelOptions.ConfigOption();
        var command = new Command("convert", "Write a single-file checkpoint as a diffusers folder.") { checkpoint, output, config };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(checkpoint)!;
            if (!File.Exists(path)) throw new FileNotFoundException($"No checkpoint file at {path}.", path);
            var family = SingleFileModel.Family(path);
            DiffusersFolderWriter.Convert(path, parse.GetValue(config), parse.GetValue(output)!);
            AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(parse.GetValue(output)!)}[/] ({family.Describe()}, diffusers layout)");
            return 0;
        });
        return command;
    }
}

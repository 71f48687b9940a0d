using System.CommandLine;
using DistriGen.Models.Text;
using DistriGen.Tensors.IO;
using Spectre.Console;

namespace DistriGen.Cli.Commands;

/// <summary>
/// distrigen encode-prompt: diffusers' encode_prompt for a model folder, written as safetensors
/// (prompt_embeds, negative_prompt_embeds, input_ids; for SDXL also input_ids_2 and the pooled embeds).
/// </summary>
internal static class EncodePromptCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "A diffusers model folder with tokenizer/ and text_encoder/ (and the _2 pair for SDXL).", Required = true };
        var prompt = new Argument<string>("prompt") { Description = "The prompt to encode." };
        var negative = new Option<string?>("--negative-prompt") { Description = "The negative prompt (default: \"\", or zeros for SDXL)." };
        var clipSkip = new Option<int?>("--clip-skip") { Description = "Text-encoder layers to skip from the end, as diffusers' clip_skip." };
        var output = new Option<string>("--out") { Description = "Where to write the embeddings.", Required = true };
        var command = new Command("encode-prompt", "Encode a prompt as the model's pipeline does.") { prompt, model, negative, clipSkip, output };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(output)!;
            AtomicFile.CheckWritable(path, "--out");
            var directory = parse.GetValue(model)!;
            var encoder = PromptEncoders.Load(directory, Models.Configuration.ModelIndex.Load(directory))
                ?? throw new DirectoryNotFoundException($"{directory} has no text encoder (text_encoder/ and tokenizer/); nothing to encode.");
            using var e = encoder.Encode(new PromptRequest(parse.GetValue(prompt)!, parse.GetValue(negative), parse.GetValue(clipSkip)));
            foreach (var warning in e.Warnings) CliConsole.Warning(warning);
            var items = new List<SafeTensorsItem>
            {
                new("prompt_embeds", e.PromptEmbeds),
                new("negative_prompt_embeds", e.NegativePromptEmbeds),
            };
            for (int i = 0; i < e.InputIds.Count; i++)
                items.Add(new(i == 0 ? "input_ids" : $"input_ids_{i + 1}", Tensors.Tensor.FromArray(e.InputIds[i].Select(id => (float)id).ToArray(), 1, e.InputIds[i].Length), SafeTensorsDType.I64));
            if (e.PooledPromptEmbeds is not null)
            {
                items.Add(new("pooled_prompt_embeds", e.PooledPromptEmbeds));
                items.Add(new("negative_pooled_prompt_embeds", e.NegativePooledPromptEmbeds!));
            }
            SafeTensorsWriter.Write(path, items);
            AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(path)}[/]: {string.Join(", ", items.Select(i => $"{i.Name} {Tensors.Tensor.Format(i.Tensor.Shape)}"))}");
            return 0;
        });
        return command;
    }
}

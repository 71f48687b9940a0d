using System.Text.Json;

namespace DistriGen.Models.Configuration;

/// <summary>
/// A diffusers model_index.json: which pipeline the folder is for and its pipeline-level settings.
/// Only what changes the numbers is read; a folder without the file is taken as it is.
/// </summary>
public sealed record ModelIndex(string? PipelineClass, bool ForceZerosForEmptyPrompt)
{
    public static ModelIndex None { get; } = new(null, true);

    public bool IsSdxl => PipelineClass is "StableDiffusionXLPipeline" or "StableDiffusionXLImg2ImgPipeline";

    public static ModelIndex Load(string modelDirectory)
    {
        var path = Path.Combine(modelDirectory, "model_index.json");
        if (!File.Exists(path)) return None;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new ModelConfigException(path, "the model index must be a JSON object.");
            string? cls = root.TryGetProperty("_class_name", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            bool zeros = true;
            if (root.TryGetProperty("force_zeros_for_empty_prompt", out var z))
                zeros = z.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw new ModelConfigException(path, $"'force_zeros_for_empty_prompt' must be true or false, got {z}."),
                };
            return new ModelIndex(cls, zeros);
        }
        catch (JsonException e)
        {
            throw new ModelConfigException(path, $"not valid JSON ({e.Message}).");
        }
    }
}

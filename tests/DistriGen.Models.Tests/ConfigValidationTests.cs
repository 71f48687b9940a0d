using System.Text.Json.Nodes;
using DistriGen.Models.Configuration;

namespace DistriGen.Models.Tests;

/// <summary>Every value a model cannot run with is an error naming the key and the file, before any work.</summary>
public sealed class ConfigValidationTests
{
    private static string Fixture(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Fixtures", "sd-tiny", .. parts]);

    private static Exception Fails(string part, string file, Action<JsonObject> edit, Func<string, object> load)
    {
        var config = JsonNode.Parse(File.ReadAllText(Fixture(part, file)))!.AsObject();
        edit(config);
        var dir = Directory.CreateTempSubdirectory("distrigen-config-").FullName;
        var path = Path.Combine(dir, file);
        File.WriteAllText(path, config.ToJsonString());
        try
        {
            var e = Assert.Throws<ModelConfigException>(() => load(path));
            Assert.Contains(path, e.Message);
            return e;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("block_out_channels", "[32, 0]")]
    [InlineData("norm_num_groups", "0")]
    [InlineData("norm_num_groups", "5")]
    [InlineData("attention_head_dim", "0")]
    [InlineData("attention_head_dim", "[8, 7]")]
    [InlineData("layers_per_block", "[2, 2, 2]")]
    [InlineData("layers_per_block", "0")]
    [InlineData("transformer_layers_per_block", "0")]
    [InlineData("cross_attention_dim", "0")]
    [InlineData("block_out_channels", "[32.5, 64]")]
    [InlineData("down_block_types", "[\"DownBlock2D\", 3]")]
    [InlineData("mid_block_scale_factor", "0")]
    public void Unet_values_that_cannot_work_name_the_key(string key, string value)
    {
        var e = Fails("unet", "config.json", c => c[key] = JsonNode.Parse(value), UNetConfig.Load);
        Assert.Contains($"'{key}'", e.Message);
    }

    [Fact]
    public void A_negative_norm_eps_would_be_non_finite()
    {
        var e = Fails("unet", "config.json", c => c["norm_eps"] = -1.0, UNetConfig.Load);
        Assert.Contains("'norm_eps'", e.Message);
        Assert.Contains("non-finite", e.Message);
    }

    [Theory]
    [InlineData("scaling_factor", "0")]
    [InlineData("scaling_factor", "-0.18")]
    [InlineData("norm_num_groups", "0")]
    [InlineData("block_out_channels", "[]")]
    public void Vae_values_that_cannot_work_name_the_key(string key, string value)
    {
        var e = Fails("vae", "config.json", c => c[key] = JsonNode.Parse(value), VaeConfig.Load);
        Assert.Contains($"'{key}'", e.Message);
        if (key == "scaling_factor") Assert.Contains("non-finite", e.Message);
    }

    [Theory]
    [InlineData("beta_end", "1.5")]
    [InlineData("beta_start", "-0.1")]
    [InlineData("num_train_timesteps", "0")]
    [InlineData("steps_offset", "1000")]
    public void Scheduler_values_that_cannot_work_name_the_key(string key, string value)
    {
        var e = Fails("scheduler", "scheduler_config.json", c => c[key] = JsonNode.Parse(value), p => SchedulerConfig.Load(p));
        Assert.Contains($"'{key}'", e.Message);
        if (key.StartsWith("beta")) Assert.Contains("non-finite", e.Message);
    }
}

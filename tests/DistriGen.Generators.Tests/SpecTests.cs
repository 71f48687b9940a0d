using System.Reflection;
using DistriGen.Generators.Model;
using DistriGen.Generators.Parsing;

namespace DistriGen.Generators.Tests;

/// <summary>The parser's output must be plain values so the pipeline can cache it.</summary>
public sealed class SpecTests
{
    [Fact]
    public void TheSpecHoldsNoRoslynObject()
    {
        var seen = new HashSet<Type>();
        void Check(Type type, string path)
        {
            if (!seen.Add(type)) return;
            Assert.False(type.Namespace?.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal) ?? false, $"{path} is a Roslyn type {type}");
            if (type.IsPrimitive || type.IsEnum || type == typeof(string)) return;
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(EquatableArray<>))
            {
                Check(type.GetGenericArguments()[0], path + "[]");
                return;
            }
            if (Nullable.GetUnderlyingType(type) is { } inner)
            {
                Check(inner, path);
                return;
            }
            Assert.True(type.Namespace == typeof(ModuleSpec).Namespace, $"{path} has type {type}, which is not a spec value");
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
                Check(field.FieldType, path + "." + field.Name);
        }
        Check(typeof(ParseResult), nameof(ParseResult));
    }

    [Theory]
    [InlineData("ConvShortcut", "conv_shortcut")]
    [InlineData("Norm1", "norm1")]
    [InlineData("_timeEmbProj", "time_emb_proj")]
    [InlineData("DownBlocks", "down_blocks")]
    [InlineData("HTTPServer", "http_server")]
    [InlineData("conv_in", "conv_in")]
    public void MemberNamesBecomeStateDictNames(string member, string expected) => Assert.Equal(expected, Naming.ToSnakeCase(member));
}

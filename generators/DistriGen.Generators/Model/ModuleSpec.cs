using System;

namespace DistriGen.Generators.Model
{
    /// <summary>How the generated code treats one member (mirrors DistriGen.Runtime.PatchMemberKind).</summary>
    internal enum MemberKind
    {
        HaloConv,
        InputConv,
        GroupNorm,
        Attention,
        Child,
        Shared,
        Parameter,
        Copied,
    }

    /// <summary>
    /// The container a member's modules are in; each element is rewritten by <see cref="MemberSpec.Kind"/>.
    /// </summary>
    internal enum CollectionKind
    {
        None,
        /// <summary>ModuleList&lt;T&gt;.</summary>
        ModuleList,
        /// <summary>T[].</summary>
        Array,
        /// <summary>
        /// IReadOnlyList&lt;T&gt;, IReadOnlyCollection&lt;T&gt;, IEnumerable&lt;T&gt;: rewritten into an array.
        /// </summary>
        Sequence,
        /// <summary>List&lt;T&gt;, IList&lt;T&gt;, ICollection&lt;T&gt;: rewritten into a List&lt;T&gt;.</summary>
        List,
        /// <summary>
        /// Dictionary&lt;string, T&gt; and its interfaces: rewritten into a Dictionary, named by key.
        /// </summary>
        Map,
    }

    /// <summary>One member of a [PatchParallel] class: strings, enums and bools only (names unescaped).</summary>
    internal sealed record MemberSpec(
        string Name,
        string StateName,
        MemberKind Kind,
        CollectionKind Collection,
        string TypeName,
        string ElementTypeName,
        bool IsOptional);

    /// <summary>
    /// A type containing the annotated class, outermost first: "partial class", "Outer" (escaped, with type
    /// parameters).
    /// </summary>
    internal sealed record ContainingTypeSpec(string Keyword, string Name);

    /// <summary>
    /// Everything the emitter needs to write one class's generated part. Value-equatable and free of
    /// Roslyn objects, so the incremental pipeline can cache it across edits.
    /// </summary>
    internal sealed record ModuleSpec(
        string? Namespace,
        string ClassName,
        string FullyQualifiedName,
        string MetadataName,
        string HintName,
        bool IsSealed,
        bool BaseIsPatchParallel,
        bool AddParameterlessConstructor,
        bool SetsRequiredMembers,
        EquatableArray<ContainingTypeSpec> ContainingTypes,
        EquatableArray<MemberSpec> Members);

    /// <summary>
    /// A [PatchParallel] class the generator reported an error for: what keeps the rest of the user's
    /// build quiet (a ToPatchParallel that throws, in the class or as an extension method when the class
    /// is not partial), so the DG error is the only one.
    /// </summary>
    internal sealed record StubSpec(
        string? Namespace,
        string ClassName,
        string FullyQualifiedName,
        string HintName,
        bool AsExtension,
        bool BaseIsPatchParallel,
        string Reason,
        EquatableArray<ContainingTypeSpec> ContainingTypes);

    /// <summary>Where a diagnostic points, as plain values.</summary>
    internal sealed record LocationInfo(string FilePath, int Start, int Length, int StartLine, int StartCharacter, int EndLine, int EndCharacter)
    {
        public Microsoft.CodeAnalysis.Location ToLocation() =>
            Microsoft.CodeAnalysis.Location.Create(
                FilePath,
                new Microsoft.CodeAnalysis.Text.TextSpan(Start, Length),
                new Microsoft.CodeAnalysis.Text.LinePositionSpan(
                    new Microsoft.CodeAnalysis.Text.LinePosition(StartLine, StartCharacter),
                    new Microsoft.CodeAnalysis.Text.LinePosition(EndLine, EndCharacter)));

        public static LocationInfo? From(Microsoft.CodeAnalysis.Location? location)
        {
            if (location is null || location.SourceTree is null) return null;
            var span = location.GetLineSpan().Span;
            return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan.Start, location.SourceSpan.Length,
                span.Start.Line, span.Start.Character, span.End.Line, span.End.Character);
        }
    }

    /// <summary>A diagnostic as plain values: descriptor id, message arguments, location.</summary>
    internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
    {
        public Microsoft.CodeAnalysis.Diagnostic ToDiagnostic() =>
            Microsoft.CodeAnalysis.Diagnostic.Create(Diagnostics.DiagnosticDescriptors.ById(Id), Location?.ToLocation(), Arguments.ToArrayOfObjects());
    }

    /// <summary>
    /// The parser's answer for one class: the spec (null when the class cannot be generated), the stub
    /// that stands in for it then (or null), and the diagnostics.
    /// </summary>
    internal sealed record ParseResult(ModuleSpec? Spec, StubSpec? Stub, EquatableArray<DiagnosticInfo> Diagnostics);

    internal static class EquatableArrayExtensions
    {
        public static object[] ToArrayOfObjects(this EquatableArray<string> items)
        {
            var result = new object[items.Count];
            for (int i = 0; i < items.Count; i++) result[i] = items[i];
            return result;
        }
    }
}

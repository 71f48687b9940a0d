using System.Text;

namespace DistriGen.Generators.Emitting
{
    /// <summary>A string builder that indents by blocks, for readable generated code.</summary>
    internal sealed class IndentedWriter
    {
        private readonly StringBuilder _sb = new StringBuilder();
        private int _indent;

        public IndentedWriter Line(string text = "")
        {
            if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
            _sb.Append('\n');
            return this;
        }

        public IndentedWriter Open(string header)
        {
            Line(header);
            Line("{");
            _indent++;
            return this;
        }

        public IndentedWriter Close(string suffix = "")
        {
            _indent--;
            return Line("}" + suffix);
        }

        public override string ToString() => _sb.ToString();
    }
}

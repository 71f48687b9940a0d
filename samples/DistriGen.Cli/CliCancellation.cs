namespace DistriGen.Cli;

/// <summary>
/// Ctrl-C asks the running generation to stop: every rank stops at its next step or exchange and no
/// output is written. A second Ctrl-C ends the process at once.
/// </summary>
internal static class CliCancellation
{
    private static CancellationTokenSource _current = new();
    private static int _registered;

    /// <summary>The token of this run of the tool.</summary>
    public static CancellationToken Token => _current.Token;

    public static IDisposable Begin()
    {
        _current = new CancellationTokenSource();
        if (Interlocked.Exchange(ref _registered, 1) == 0)
            Console.CancelKeyPress += (_, e) =>
            {
                if (_current.IsCancellationRequested) return;
                e.Cancel = true;
                _current.Cancel();
            };
        return _current;
    }
}

namespace VirtualApic.Cli;

/// <summary>The <c>vapic</c> entry point.</summary>
public static class Program
{
    /// <summary>Runs the command line; returns the process exit code.</summary>
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("vapic: the scenario runner lands with issue 5");
        return args.Length == 0 ? 2 : 2;
    }
}

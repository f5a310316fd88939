// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

using System.Globalization;

namespace VirtualApic.Guest.Kut;

/// <summary>
/// A parsed kvm-unit-tests <c>unittests.cfg</c>: <c>[name]</c> headers followed by <c>key = value</c>
/// lines, <c>#</c> comments. The keys the engine uses are <c>file</c>, <c>smp</c>,
/// <c>qemu_params</c>/<c>extra_params</c> (their <c>-cpu</c> and <c>-append</c>), <c>test_args</c>,
/// <c>timeout</c>, <c>groups</c> and <c>arch</c>; other keys (<c>check</c>, <c>accel</c>...) are kept
/// out of the way. A section whose qemu parameters ask for something not modelled is still listed;
/// the runner refuses it when asked to run it.
/// </summary>
public sealed class KutConfig
{
    /// <summary>run_tests.sh's default timeout in seconds.</summary>
    public const double DefaultTimeoutSeconds = 90;

    private KutConfig(IReadOnlyList<KutSection> sections) => Sections = sections;

    /// <summary>The sections in file order.</summary>
    public IReadOnlyList<KutSection> Sections { get; }

    /// <summary>Reads and parses a file.</summary>
    /// <exception cref="KutConfigException">Unreadable or malformed.</exception>
    public static KutConfig Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new KutConfigException($"{path}: cannot read: {e.Message}", e);
        }

        return Parse(text, path);
    }

    /// <summary>Parses the text of a unittests.cfg.</summary>
    /// <exception cref="KutConfigException">A malformed line or value, naming the file and line.</exception>
    public static KutConfig Parse(string text, string fileName = "unittests.cfg")
    {
        ArgumentNullException.ThrowIfNull(text);
        var sections = new List<KutSection>();
        string? name = null;
        int headerLine = 0;
        var keys = new Dictionary<string, (string Value, int Line)>(StringComparer.Ordinal);
        string[] lines = text.Split('\n');
        for (int i = 0; i <= lines.Length; i++)
        {
            string line = i < lines.Length ? lines[i].TrimEnd('\r').Trim() : "[";
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line[0] == '[')
            {
                if (name is not null)
                {
                    sections.Add(Build(name, headerLine, keys, fileName));
                }

                if (i == lines.Length)
                {
                    break;
                }

                if (!line.EndsWith(']') || line.Length < 3)
                {
                    throw new KutConfigException($"{fileName}:{i + 1}: malformed section header '{line}'");
                }

                name = line[1..^1].Trim();
                if (sections.Exists(s => s.Name == name))
                {
                    throw new KutConfigException($"{fileName}:{i + 1}: section [{name}] appears twice");
                }

                headerLine = i + 1;
                keys.Clear();
                continue;
            }

            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new KutConfigException($"{fileName}:{i + 1}: expected 'key = value', got '{line}'");
            }

            if (name is null)
            {
                throw new KutConfigException($"{fileName}:{i + 1}: '{line}' is outside any [section]");
            }

            keys[line[..eq].Trim()] = (line[(eq + 1)..].Trim(), i + 1);
        }

        return new KutConfig(sections);
    }

    /// <summary>The section called <paramref name="name"/>, or <see langword="null"/>.</summary>
    public KutSection? Find(string name) => Sections.FirstOrDefault(s => s.Name == name);

    private static KutSection Build(string name, int headerLine, Dictionary<string, (string Value, int Line)> keys, string fileName)
    {
        if (!keys.TryGetValue("file", out var file) || file.Value.Length == 0)
        {
            throw new KutConfigException($"{fileName}:{headerLine}: section [{name}] has no 'file'");
        }

        int smp = 1;
        if (keys.TryGetValue("smp", out var smpText) &&
            (!int.TryParse(smpText.Value, NumberStyles.None, CultureInfo.InvariantCulture, out smp) || smp < 1))
        {
            throw new KutConfigException($"{fileName}:{smpText.Line}: smp '{smpText.Value}' is not a positive number");
        }

        double timeout = DefaultTimeoutSeconds;
        if (keys.TryGetValue("timeout", out var t))
        {
            string v = t.Value.EndsWith('s') ? t.Value[..^1] : t.Value;
            if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out timeout) || timeout <= 0)
            {
                throw new KutConfigException($"{fileName}:{t.Line}: timeout '{t.Value}' is not a positive number of seconds");
            }
        }

        string cpu = "qemu64";
        string? append = null;
        foreach (string key in (ReadOnlySpan<string>)["extra_params", "qemu_params"])
        {
            if (keys.TryGetValue(key, out var p))
            {
                var words = SplitWords(p.Value, fileName, p.Line);
                for (int w = 0; w < words.Count; w++)
                {
                    if (words[w] is not ("-cpu" or "-append"))
                    {
                        continue;
                    }

                    // QEMU refuses an option without its argument; taking the default instead would run another test.
                    if (w + 1 == words.Count)
                    {
                        throw new KutConfigException($"{fileName}:{p.Line}: {key}: {words[w]} needs an argument");
                    }

                    if (words[w] == "-cpu")
                    {
                        cpu = words[++w];
                    }
                    else
                    {
                        append = words[++w];
                    }
                }
            }
        }

        if (keys.TryGetValue("test_args", out var args))
        {
            append = string.Join(' ', SplitWords(args.Value, fileName, args.Line));
        }

        string[] groups = keys.TryGetValue("groups", out var g)
            ? g.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : [];
        string? arch = keys.TryGetValue("arch", out var a) ? a.Value : null;
        return new KutSection(name, file.Value, smp, cpu, append, timeout, groups, arch, headerLine);
    }

    // Shell-like words: whitespace-separated, with '...' and "..." quoting.
    private static List<string> SplitWords(string text, string fileName, int line)
    {
        var words = new List<string>();
        var current = new System.Text.StringBuilder();
        char quote = '\0';
        bool inWord = false;
        foreach (char c in text)
        {
            if (quote != '\0')
            {
                if (c == quote)
                {
                    quote = '\0';
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (quote != '\0')
        {
            throw new KutConfigException($"{fileName}:{line}: unterminated {quote} quote");
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words;
    }
}

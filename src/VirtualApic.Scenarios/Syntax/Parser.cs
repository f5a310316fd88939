// Copyright (c) 2026 The VirtualApic authors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace VirtualApic.Scenarios.Syntax;

/// <summary>
/// The parsing engine behind <see cref="ScenarioParser"/>: splits lines, lexes each one into a
/// reused token list, and parses statements with a cursor over it. A line's first error is thrown
/// as a <see cref="SyntaxError"/> and caught by the line loop, which records it and moves on to the
/// next line, so each helper reads as the grammar it checks.
/// </summary>
internal sealed partial class Parser
{
    private readonly string _text;
    private readonly string _file;
    private readonly List<ScenarioDiagnostic> _diagnostics = [];
    private readonly List<Statement> _statements = [];
    private readonly List<Token> _tokens = [];
    private readonly HashSet<string> _snapshots = new(StringComparer.OrdinalIgnoreCase);

    private int _line;
    private int _lineStart;
    private int _cursor;
    private int _statementCount;
    private int _firstStatementLine;
    private bool _unreadableFirst;
    private bool _stopped;

    private VmOptions? _vm;
    private SourceLine _vmSource;
    private int _vmLine;

    public Parser(string text, string fileName)
    {
        _text = text;
        _file = fileName;
    }

    public ParseResult Run()
    {
        int position = _text.Length > 0 && _text[0] == '\uFEFF' ? 1 : 0;
        while (!_stopped && position <= _text.Length)
        {
            _line++;
            int newline = _text.IndexOf('\n', position);
            int end = newline < 0 ? _text.Length : newline;
            if (end > position && _text[end - 1] == '\r')
            {
                end--;
            }

            ParseLine(position, end);
            position = newline < 0 ? _text.Length + 1 : newline + 1;
        }

        if (!_stopped && _statementCount == 0 && _diagnostics.Count == 0)
        {
            Report(1, 1, "the scenario is empty: the first statement must be `vm` (for example `vm cpus=1`)");
        }

        if (_vm is null && _diagnostics.Count == 0)
        {
            Report(1, 1, "the scenario has no `vm` statement");
        }

        if (_diagnostics.Count > 0 || _vm is null)
        {
            return ParseResult.Failure(_diagnostics);
        }

        return ParseResult.Success(new Scenario(_file, _vm, _vmSource, _statements));
    }

    private void ParseLine(int start, int end)
    {
        _lineStart = start;
        bool tooLong = end - start > ScenarioParser.MaxLineLength;
        bool hasCode = true;
        var lexError = tooLong ? null : Lex(start, end, out hasCode);
        if (!hasCode)
        {
            // A blank or comment-only line: only a bad character in the comment is worth a word.
            if (lexError is not null)
            {
                Report(_line, lexError.Column, lexError.Message);
            }

            return;
        }

        // Every line with code counts toward the limit, even one that cannot be read.
        if (++_statementCount > ScenarioParser.MaxStatements)
        {
            Report(_line, 1, $"too many statements: a scenario may have at most {ScenarioParser.MaxStatements}");
            _stopped = true;
            return;
        }

        if (tooLong || lexError is not null)
        {
            // An unreadable line may have been meant as the `vm` line: the vm-order checks stand down.
            _unreadableFirst |= _firstStatementLine == 0;
            if (lexError is not null)
            {
                Report(_line, lexError.Column, lexError.Message);
            }
            else
            {
                Report(_line, ScenarioParser.MaxLineLength + 1, $"line is longer than {ScenarioParser.MaxLineLength} characters");
            }

            return;
        }

        if (_firstStatementLine == 0)
        {
            _firstStatementLine = _line;
        }

        try
        {
            ParseStatement();
        }
        catch (SyntaxError error)
        {
            Report(_line, error.Column, error.Message);
        }
    }

    private void Report(int line, int column, string message)
    {
        _diagnostics.Add(new ScenarioDiagnostic(_file, line, column, message));
        if (_diagnostics.Count == ScenarioParser.MaxDiagnostics && !_stopped)
        {
            _diagnostics.Add(new ScenarioDiagnostic(_file, line, column, $"too many errors; stopped after {ScenarioParser.MaxDiagnostics}"));
            _stopped = true;
        }
    }

    // ---- Lexer ---------------------------------------------------------------------------------

    /// <summary>
    /// Splits the line into <see cref="_tokens"/>. Returns the first bad character as an error (not
    /// thrown: the caller first decides whether the line is a statement); <paramref name="hasCode"/>
    /// tells whether anything but blanks and a comment is on the line.
    /// </summary>
    private SyntaxError? Lex(int start, int end, out bool hasCode)
    {
        _tokens.Clear();
        _cursor = 0;
        hasCode = false;
        int i = start;
        while (i < end)
        {
            char c = _text[i];
            switch (c)
            {
                case ' ' or '\t':
                    i++;
                    continue;
                case '#':
                    if (_tokens.Count > 0 && _tokens[^1].Kind == TokenKind.EqualEqual && IsGpLiteral(i, end))
                    {
                        _tokens.Add(new Token(TokenKind.GpLiteral, i, 3));
                        i += 3;
                        continue;
                    }

                    hasCode = _tokens.Count > 0;
                    return CheckComment(i + 1, end);
                case '=':
                    bool twice = i + 1 < end && _text[i + 1] == '=';
                    _tokens.Add(new Token(twice ? TokenKind.EqualEqual : TokenKind.Assign, i, twice ? 2 : 1));
                    i += twice ? 2 : 1;
                    continue;
                case '&':
                    _tokens.Add(new Token(TokenKind.Ampersand, i, 1));
                    i++;
                    continue;
                case ',':
                    _tokens.Add(new Token(TokenKind.Comma, i, 1));
                    i++;
                    continue;
                default:
                    break;
            }

            if (!IsWordChar(c))
            {
                hasCode = true;
                return BadCharacter(i, c);
            }

            int wordStart = i;
            while (i < end && IsWordChar(_text[i]))
            {
                i++;
            }

            _tokens.Add(new Token(TokenKind.Word, wordStart, i - wordStart));
        }

        hasCode = _tokens.Count > 0;
        return null;
    }

    private static bool IsWordChar(char c) => c is > ' ' and <= '~' and not ('#' or '=' or '&' or ',');

    private bool IsGpLiteral(int i, int end) =>
        i + 3 <= end
        && (_text[i + 1] is 'g' or 'G')
        && (_text[i + 2] is 'p' or 'P')
        && (i + 3 == end || _text[i + 3] is ' ' or '\t' or '#');

    private SyntaxError? CheckComment(int start, int end)
    {
        for (int i = start; i < end; i++)
        {
            if (char.IsControl(_text[i]) && _text[i] != '\t')
            {
                return BadCharacter(i, _text[i]);
            }
        }

        return null;
    }

    private SyntaxError BadCharacter(int index, char c) => new(
        index - _lineStart + 1,
        char.IsControl(c)
            ? $"control character U+{(int)c:X4} is not allowed"
            : $"unexpected character U+{(int)c:X4}: only ASCII may appear outside comments");

    // ---- Cursor --------------------------------------------------------------------------------

    private bool AtEnd => _cursor >= _tokens.Count;

    private Token Current => _tokens[_cursor];

    /// <summary>The index just after the statement's last token.</summary>
    private int CodeEnd => _tokens.Count == 0 ? _lineStart : _tokens[^1].End;

    private ReadOnlySpan<char> Span(Token token) => _text.AsSpan(token.Start, token.Length);

    private string TextOf(Token token) => _text.Substring(token.Start, token.Length);

    private bool Is(Token token, string keyword) =>
        token.Kind == TokenKind.Word && Span(token).Equals(keyword, StringComparison.OrdinalIgnoreCase);

    private bool NextIs(TokenKind kind) => !AtEnd && Current.Kind == kind;

    /// <summary>The next token, which must exist: else "missing <paramref name="what"/>".</summary>
    private Token Take(string what, string usage)
    {
        if (AtEnd)
        {
            throw Missing(what, usage);
        }

        return _tokens[_cursor++];
    }

    /// <summary>The next token, which must be a word.</summary>
    private Token TakeWord(string what, string usage)
    {
        var token = Take(what, usage);
        return token.Kind == TokenKind.Word ? token : throw At(token, $"expected {what}, found {Show(token)}; usage: {usage}");
    }

    /// <summary>Takes the keyword <paramref name="keyword"/>, which must come next.</summary>
    private void TakeKeyword(string keyword, string usage)
    {
        var token = Take($"`{keyword}`", usage);
        if (!Is(token, keyword))
        {
            throw At(token, $"expected `{keyword}`, found {Show(token)}; usage: {usage}");
        }
    }

    /// <summary>Takes the next word and looks it up in <paramref name="table"/>.</summary>
    private T TakeChoice<T>(KeywordTable<T> table, string what, string usage)
    {
        var token = TakeWord(what, usage);
        return table.TryGet(Span(token), out var value)
            ? value
            : throw At(token, $"unknown {what} {Show(token)}; expected {table.Choices}");
    }

    /// <summary>The statement must end here.</summary>
    private void ExpectEnd(string usage)
    {
        if (!AtEnd)
        {
            throw At(Current, $"unexpected {Show(Current)}; usage: {usage}");
        }
    }

    // ---- Errors --------------------------------------------------------------------------------

    private SyntaxError At(Token token, string message) => new(token.Start - _lineStart + 1, message);

    private SyntaxError Missing(string what, string usage) => new(CodeEnd - _lineStart + 1, $"missing {what}; usage: {usage}");

    /// <summary>A token as shown in a message: in backticks, long ones cut short.</summary>
    private string Show(Token token)
    {
        const int Longest = 40;
        return token.Length <= Longest
            ? $"`{Span(token)}`"
            : $"`{_text.AsSpan(token.Start, Longest)}...`";
    }

    private SourceLine Source() => new(_line, _text[_tokens[0].Start..CodeEnd]);

    /// <summary>The first error on a line, carried to the line loop.</summary>
    private sealed class SyntaxError(int column, string message) : Exception(message)
    {
        public int Column { get; } = column;
    }
}

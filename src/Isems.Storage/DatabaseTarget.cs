using System.Globalization;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Isems.Storage;

public enum DatabaseKind
{
    Sqlite,
    PostgreSql,
}

/// <summary>
/// Which database the measurements live in, parsed from <c>DATABASE_URL</c> (SPEC §4). The connection string may hold a
/// password: log <see cref="Describe"/> (which <see cref="ToString"/> returns too), never the connection string.
/// </summary>
public sealed record DatabaseTarget(DatabaseKind Kind, string ConnectionString)
{
    /// <summary>Where the database file goes when DATABASE_URL is not set, relative to the working directory.</summary>
    public static readonly string DefaultSqliteRelativePath = Path.Combine("data", "isems.db");

    private const string AcceptedForms =
        "DATABASE_URL must be empty (SQLite file data/isems.db under the working directory), " +
        "sqlite:////absolute/path.db, sqlite:///relative/path.db, " +
        "or postgresql://user:password@host:port/database (also postgres://; special characters in user and password URL-encoded)";

    /// <summary>
    /// Parses a DATABASE_URL: empty → SQLite <c>data/isems.db</c> under <paramref name="workingDirectory"/> (the folder is
    /// created); <c>sqlite:////abs/path.db</c>; <c>sqlite:///relative.db</c> (relative to <paramref name="workingDirectory"/>);
    /// <c>postgresql://user:pass@host:port/db?sslmode=require</c> (also <c>postgres://</c> and SQLAlchemy's
    /// <c>postgresql+driver://</c>). Throws <see cref="ArgumentException"/> naming the accepted forms for anything else.
    /// </summary>
    public static DatabaseTarget Parse(string? databaseUrl, string workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(workingDirectory);
        var url = databaseUrl?.Trim();
        if (string.IsNullOrEmpty(url))
        {
            var path = Path.GetFullPath(Path.Combine(workingDirectory, DefaultSqliteRelativePath));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            return Sqlite(path);
        }

        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        var scheme = schemeEnd < 0 ? "" : url[..schemeEnd].ToLowerInvariant();
        if (scheme is "sqlite" or "sqlite3")
            return ParseSqlite(url, url[(schemeEnd + 3)..], workingDirectory);
        if (scheme is "postgresql" or "postgres" || scheme.StartsWith("postgresql+", StringComparison.Ordinal))
            return ParsePostgres(url, url[(schemeEnd + 3)..]);
        throw Invalid(url, schemeEnd < 0 ? "it has no scheme" : $"the scheme '{url[..schemeEnd]}' is not supported");
    }

    /// <summary>A SQLite target for a file path (made absolute).</summary>
    public static DatabaseTarget Sqlite(string path)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = Path.GetFullPath(path),
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            // How long a command waits for a lock another process holds: as long as busy_timeout, so a held lock
            // shows as a failed commit (retried, reported by /readyz) after seconds, not after the driver's 30 s.
            DefaultTimeout = SqliteSession.BusyTimeoutMilliseconds / 1000,
        };
        return new DatabaseTarget(DatabaseKind.Sqlite, builder.ConnectionString);
    }

    /// <summary>
    /// Where the node registry's journal goes: for SQLite a file of its own beside the measurements
    /// (<c>isems.db</c> → <c>isems.registry.db</c>), so an operator's change never waits for SQLite's one write lock
    /// behind a large batch of lines; for PostgreSQL the same database, in Akka.Persistence.Sql's own tables.
    /// </summary>
    public DatabaseTarget RegistryJournal()
    {
        if (Kind != DatabaseKind.Sqlite) return this;
        var path = new SqliteConnectionStringBuilder(ConnectionString).DataSource;
        return Sqlite(Path.Combine(Path.GetDirectoryName(path)!, Path.GetFileNameWithoutExtension(path) + ".registry.db"));
    }

    /// <summary>For logs: the kind and where, without the password.</summary>
    public string Describe()
    {
        if (Kind == DatabaseKind.Sqlite)
            return $"SQLite {new SqliteConnectionStringBuilder(ConnectionString).DataSource}";
        var pg = new NpgsqlConnectionStringBuilder(ConnectionString);
        var text = $"PostgreSQL {pg.Host}:{pg.Port}/{pg.Database ?? pg.Username} as {pg.Username}";
        return pg.SslMode is SslMode.Require or SslMode.VerifyCA or SslMode.VerifyFull ? $"{text} (SSL {pg.SslMode})" : text;
    }

    /// <summary>Same as <see cref="Describe"/>, so that logging the record never prints a password.</summary>
    public override string ToString() => Describe();

    private static DatabaseTarget ParseSqlite(string url, string rest, string workingDirectory)
    {
        // SQLAlchemy's form: three slashes, then the path; a fourth slash makes it absolute.
        if (!rest.StartsWith('/'))
            throw Invalid(url, "a SQLite URL needs three slashes before a relative path and four before an absolute one");
        var path = rest[1..];
        var query = path.IndexOf('?');
        if (query >= 0) path = path[..query];
        if (path.Length == 0)
            throw Invalid(url, "it names no database file (an in-memory database would lose every measurement)");
        if (path == ":memory:")
            throw Invalid(url, "an in-memory database would lose every measurement at exit");
        var full = Path.IsPathRooted(path) ? Path.GetFullPath(path) : Path.GetFullPath(Path.Combine(workingDirectory, path));
        return Sqlite(full);
    }

    private static DatabaseTarget ParsePostgres(string url, string rest)
    {
        string? query = null;
        var q = rest.IndexOf('?');
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        var slash = rest.IndexOf('/');
        var authority = slash < 0 ? rest : rest[..slash];
        var database = slash < 0 ? "" : Decode(url, rest[(slash + 1)..]);

        var builder = new NpgsqlConnectionStringBuilder();
        var at = authority.LastIndexOf('@');
        var hostPort = at < 0 ? authority : authority[(at + 1)..];
        if (at >= 0)
        {
            var userInfo = authority[..at];
            var colon = userInfo.IndexOf(':');
            builder.Username = Decode(url, colon < 0 ? userInfo : userInfo[..colon]);
            if (colon >= 0) builder.Password = Decode(url, userInfo[(colon + 1)..]);
        }

        string host;
        string? port = null;
        if (hostPort.StartsWith('['))
        {
            var close = hostPort.IndexOf(']');
            if (close < 0) throw Invalid(url, "the IPv6 address has no closing ']'");
            host = hostPort[1..close];
            if (close + 1 < hostPort.Length)
            {
                if (hostPort[close + 1] != ':') throw Invalid(url, "unexpected text after the IPv6 address");
                port = hostPort[(close + 2)..];
            }
        }
        else
        {
            var colon = hostPort.LastIndexOf(':');
            host = colon < 0 ? hostPort : hostPort[..colon];
            if (colon >= 0) port = hostPort[(colon + 1)..];
        }
        builder.Host = Decode(url, host);
        builder.Port = 5432;
        if (port is not null)
        {
            if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
                throw Invalid(url, $"the port '{port}' is not a number between 1 and 65535");
            builder.Port = number;
        }
        if (database.Length > 0) builder.Database = database;

        if (query is not null)
            foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                var key = Decode(url, eq < 0 ? pair : pair[..eq]);
                var value = eq < 0 ? "" : Decode(url, pair[(eq + 1)..]);
                SetParameter(url, builder, key, value);
            }

        if (string.IsNullOrEmpty(builder.Host))
            throw Invalid(url, "it names no host");
        if (string.IsNullOrEmpty(builder.Username))
            throw Invalid(url, "it names no user (postgresql://user:password@host:port/database)");
        return new DatabaseTarget(DatabaseKind.PostgreSql, builder.ConnectionString);
    }

    /// <summary>libpq's parameter names (as in <c>?sslmode=require</c>) mapped to Npgsql's; anything else is passed as is.</summary>
    private static void SetParameter(string url, NpgsqlConnectionStringBuilder builder, string key, string value)
    {
        try
        {
            switch (key.ToLowerInvariant())
            {
                case "sslmode":
                    builder.SslMode = Enum.Parse<SslMode>(value.Replace("-", ""), ignoreCase: true);
                    break;
                case "connect_timeout": builder.Timeout = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "application_name": builder.ApplicationName = value; break;
                case "sslrootcert": builder.RootCertificate = value; break;
                case "sslcert": builder.SslCertificate = value; break;
                case "sslkey": builder.SslKey = value; break;
                case "sslpassword": builder.SslPassword = value; break;
                case "target_session_attrs": builder["Target Session Attributes"] = value; break;
                case "dbname": builder.Database = value; break;
                case "user": builder.Username = value; break;
                case "password": builder.Password = value; break;
                case "host": builder.Host = value; break;
                case "port": builder.Port = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: builder[key] = value; break;
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or KeyNotFoundException)
        {
            throw Invalid(url, $"the parameter '{key}={value}' is not understood ({e.Message})");
        }
    }

    private static string Decode(string url, string text)
    {
        try
        {
            return Uri.UnescapeDataString(text);
        }
        catch (UriFormatException e)
        {
            throw Invalid(url, e.Message);
        }
    }

    private static ArgumentException Invalid(string url, string why) =>
        new($"DATABASE_URL '{Redact(url)}' is not valid: {why}. {AcceptedForms}.", "databaseUrl");

    /// <summary>The URL with its password replaced, for error messages.</summary>
    private static string Redact(string url)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0) return url;
        var start = schemeEnd + 3;
        var end = url.IndexOfAny(['/', '?'], start);
        if (end < 0) end = url.Length;
        var at = url.LastIndexOf('@', end - 1, end - start);
        if (at < 0) return url;
        var colon = url.IndexOf(':', start, at - start);
        return colon < 0 ? url : url[..(colon + 1)] + "***" + url[at..];
    }
}

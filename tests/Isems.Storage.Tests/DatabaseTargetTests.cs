using Microsoft.Data.Sqlite;
using Npgsql;
using Isems.Testing;

namespace Isems.Storage.Tests;

public sealed class DatabaseTargetTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static string SqliteFile(DatabaseTarget target)
    {
        Assert.Equal(DatabaseKind.Sqlite, target.Kind);
        return new SqliteConnectionStringBuilder(target.ConnectionString).DataSource;
    }

    private static NpgsqlConnectionStringBuilder Postgres(DatabaseTarget target)
    {
        Assert.Equal(DatabaseKind.PostgreSql, target.Kind);
        return new NpgsqlConnectionStringBuilder(target.ConnectionString);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Nothing_set_means_a_sqlite_file_under_data(string? url)
    {
        var target = DatabaseTarget.Parse(url, _temp.Path);
        Assert.Equal(Path.Combine(_temp.Path, "data", "isems.db"), SqliteFile(target));
        Assert.True(Directory.Exists(Path.Combine(_temp.Path, "data")));
        Assert.Equal($"SQLite {Path.Combine(_temp.Path, "data", "isems.db")}", target.Describe());
    }

    [Fact]
    public void Four_slashes_is_an_absolute_sqlite_path()
    {
        Assert.Equal("/var/lib/isems/isems.db", SqliteFile(DatabaseTarget.Parse("sqlite:////var/lib/isems/isems.db", _temp.Path)));
    }

    [Fact]
    public void Three_slashes_is_a_sqlite_path_relative_to_the_working_directory()
    {
        Assert.Equal(Path.Combine(_temp.Path, "measurements.db"), SqliteFile(DatabaseTarget.Parse("sqlite:///measurements.db", _temp.Path)));
        Assert.Equal(Path.Combine(_temp.Path, "db", "x.db"), SqliteFile(DatabaseTarget.Parse("sqlite:///db/x.db", _temp.Path)));
    }

    [Theory]
    [InlineData("postgresql://isems:secret@db.example.org:5433/collector")]
    [InlineData("postgres://isems:secret@db.example.org:5433/collector")]
    [InlineData("postgresql+psycopg2://isems:secret@db.example.org:5433/collector")]
    public void Postgres_url_gives_host_port_database_and_credentials(string url)
    {
        var target = DatabaseTarget.Parse(url, _temp.Path);
        var pg = Postgres(target);
        Assert.Equal(("db.example.org", 5433, "collector", "isems", "secret"), (pg.Host, pg.Port, pg.Database, pg.Username, pg.Password));
        Assert.Equal("PostgreSQL db.example.org:5433/collector as isems", target.Describe());
        Assert.DoesNotContain("secret", target.ToString());
    }

    [Fact]
    public void Postgres_user_and_password_are_url_decoded_and_the_port_defaults_to_5432()
    {
        var pg = Postgres(DatabaseTarget.Parse("postgresql://is%40ems:p%3Ass%2Fw%40rd%20x@localhost/isems", _temp.Path));
        Assert.Equal(("localhost", 5432, "isems", "is@ems", "p:ss/w@rd x"), (pg.Host, pg.Port, pg.Database, pg.Username, pg.Password));
    }

    [Fact]
    public void Postgres_query_parameters_are_passed_through()
    {
        var pg = Postgres(DatabaseTarget.Parse(
            "postgresql://u:p@[::1]:6543/db?sslmode=verify-full&application_name=isems&connect_timeout=7&Maximum%20Pool%20Size=5", _temp.Path));
        Assert.Equal(("::1", 6543), (pg.Host, pg.Port));
        Assert.Equal(SslMode.VerifyFull, pg.SslMode);
        Assert.Equal("isems", pg.ApplicationName);
        Assert.Equal(7, pg.Timeout);
        Assert.Equal(5, pg.MaxPoolSize);
        Assert.Equal(SslMode.Require, Postgres(DatabaseTarget.Parse("postgresql://u:p@h/db?sslmode=require", _temp.Path)).SslMode);
    }

    [Theory]
    [InlineData("mysql://u:p@h/db", "'mysql' is not supported")]
    [InlineData("/var/lib/isems.db", "no scheme")]
    [InlineData("isems.db", "no scheme")]
    [InlineData("sqlite://isems.db", "three slashes")]
    [InlineData("sqlite://", "three slashes")]
    [InlineData("sqlite:///", "no database file")]
    [InlineData("sqlite:///:memory:", "in-memory")]
    [InlineData("postgresql://u:secret@h:notaport/db", "port 'notaport'")]
    [InlineData("postgresql://u:secret@h:70000/db", "port '70000'")]
    [InlineData("postgresql://u:secret@/db", "no host")]
    [InlineData("postgresql://h/db", "no user")]
    [InlineData("postgresql://u:secret@h/db?sslmode=sometimes", "sslmode=sometimes")]
    [InlineData("postgresql://u:secret@h/db?frobnicate=1", "frobnicate")]
    public void Anything_else_is_rejected_with_the_accepted_forms(string url, string why)
    {
        var error = Assert.Throws<ArgumentException>(() => DatabaseTarget.Parse(url, _temp.Path));
        Assert.Contains(why, error.Message);
        Assert.Contains("sqlite:////absolute/path.db", error.Message);
        Assert.Contains("sqlite:///relative/path.db", error.Message);
        Assert.Contains("postgresql://user:password@host:port/database", error.Message);
        Assert.DoesNotContain("secret", error.Message);
    }
}

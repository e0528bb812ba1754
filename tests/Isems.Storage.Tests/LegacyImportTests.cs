using Isems.LineFormat;
using Isems.Storage.Legacy;
using Isems.Testing;

namespace Isems.Storage.Tests;

public sealed class SqliteLegacyImportTests : LegacyImportTests
{
    protected override Task<string> NewTargetUrlAsync() =>
        Task.FromResult($"sqlite:///{Temp.File($"isems-{Guid.NewGuid():N}.db")}");
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresLegacyImportTests : LegacyImportTests
{
    protected override async Task<string> NewTargetUrlAsync() => await (await PostgresServer.SharedAsync()).CreateDatabaseAsync();
}

/// <summary>The original's database imported into SQLite and into PostgreSQL (the two classes above).</summary>
public abstract class LegacyImportTests : IDisposable
{
    protected readonly TempDirectory Temp = new();
    private readonly List<IDisposable> _open = [];

    /// <summary>2020-01-01T00:00:00Z: the import's "now", so that a row in 2020-01-03 is more than a day ahead.</summary>
    private static readonly long Now = new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();

    protected abstract Task<string> NewTargetUrlAsync();

    private static long At(int year, int month, int day, int hour, int minute, int second, int offsetHours) =>
        new DateTimeOffset(year, month, day, hour, minute, second, TimeSpan.FromHours(offsetHours)).ToUnixTimeSeconds();

    private const string A = "Elektra-Dach";
    private const string B = "FF-ESP-Hof";

    /// <summary>
    /// Both daylight-saving changes of 2019 (31 March, 27 October), the two nodes' rows interleaved as the original's polls
    /// interleaved them, and rows the line format would reject. Returns the instants each good row must get (offsets
    /// written out by hand, not computed with the time zone the code uses).
    /// </summary>
    private OriginalCollectorDatabase BuildOriginal(out Dictionary<string, long[]> expected)
    {
        var db = new OriginalCollectorDatabase(Temp.File($"original-{Guid.NewGuid():N}.db"));
        // Spring: 02:00–02:59 does not exist; 02:30 is read as +01:00, the same instant as 03:30 (+02:00): a duplicate.
        db.Insert(A, "2019-03-31 01:59:42.000000");
        db.Insert(A, "2019-03-31 02:30:00", battery: "12.2");
        db.Insert(A, "2019-03-31 03:00:42.000000");
        db.Insert(A, "2019-03-31 03:30:00.000000", battery: "12.4");
        // Autumn: 02:00–02:59 happens twice, first +02:00, then +01:00. The original's unique (nodeId, timestamp text)
        // kept only second-pass rows whose text differed, so the second pass here has other seconds.
        db.Insert(A, "2019-10-27 01:59:42.000000");
        db.Insert(A, "2019-10-27 02:00:42.000000");          // summer
        db.Insert(B, "2019-10-27 02:10:00");                 // summer
        db.Insert(A, "2019-10-27 02:59:42.000000");          // summer
        db.Insert(A, "2019-10-27 02:00:12.000000");          // earlier than 02:59:42: the clock went back, winter
        db.Insert(B, "2019-10-27 02:45:00");                 // B's own clock has not gone back yet: summer
        db.Insert(A, "2019-10-27 02:59:52");                 // later than any summer row, yet A stays in winter time
        db.Insert(A, "2019-10-27 03:00:12.000000");
        db.Insert(B, "2019-10-27 02:05:00");                 // earlier than B's 02:45: winter
        // Plain rows, far from any change.
        db.Insert(A, "2018-09-18 07:52:42.000000");
        db.Insert(B, "2019-01-15 12:00:00", status: null, powerSave: true);
        // Rejected rows, each for one reason.
        db.Insert(null, "2019-05-01 12:00:00");
        db.Insert("a/b", "2019-05-01 12:00:00");
        db.Insert(A, "yesterday");
        db.Insert(B, null);
        db.Insert(A, "2000-06-01 12:00:00");
        db.Insert(A, "2020-01-03 00:00:00");
        db.Insert(A, "2019-05-01 12:00:00", battery: "n/a");
        db.Insert(B, "2019-05-01 12:00:00", powerSave: DBNull.Value);

        expected = new Dictionary<string, long[]>
        {
            [A] =
            [
                At(2019, 3, 31, 1, 59, 42, 1), At(2019, 3, 31, 2, 30, 0, 1), At(2019, 3, 31, 3, 0, 42, 2),
                At(2019, 10, 27, 1, 59, 42, 2), At(2019, 10, 27, 2, 0, 42, 2), At(2019, 10, 27, 2, 59, 42, 2),
                At(2019, 10, 27, 2, 0, 12, 1), At(2019, 10, 27, 2, 59, 52, 1), At(2019, 10, 27, 3, 0, 12, 1),
                At(2018, 9, 18, 7, 52, 42, 2),
            ],
            [B] =
            [
                At(2019, 10, 27, 2, 10, 0, 2), At(2019, 10, 27, 2, 45, 0, 2), At(2019, 10, 27, 2, 5, 0, 1),
                At(2019, 1, 15, 12, 0, 0, 1),
            ],
        };
        return db;
    }

    private const int GoodRows = 15, Rows = 23;

    private static readonly Dictionary<string, long> ExpectedRejected = new()
    {
        ["node_id"] = 2, ["number"] = 2, ["timestamp_in_future"] = 1, ["timestamp_too_old"] = 1, ["timestamp_unreadable"] = 2,
    };

    private async Task<MeasurementStore> NewTargetAsync()
    {
        var store = Keep(new MeasurementStore(DatabaseTarget.Parse(await NewTargetUrlAsync(), Temp.Path)));
        store.Migrate();
        return store;
    }

    private T Keep<T>(T disposable) where T : IDisposable
    {
        _open.Add(disposable);
        return disposable;
    }

    private static async Task<LegacyImportReport> ImportAsync(OriginalCollectorDatabase original, MeasurementStore store, int batchSize)
    {
        using var source = LegacyDatabase.Open(original.Path);
        return await LegacyImporter.ImportAsync(source, store, Now, batchSize);
    }

    [Theory]
    [InlineData(4)]      // pages end inside both changes: the repeated hour's state carries over pages
    [InlineData(5_000)]
    public async Task Berlin_timestamps_on_both_sides_of_both_changes_become_exact_utc_instants(int batchSize)
    {
        using var original = BuildOriginal(out var expected);
        var store = await NewTargetAsync();

        var report = await ImportAsync(original, store, batchSize);

        foreach (var (node, instants) in expected)
            Assert.Equal(instants.Order(), (await store.HistoryAsync(node, 100)).Select(r => r.Measurement.Timestamp).Order());
        Assert.Equal(GoodRows - 1, await store.CountAsync());
        Assert.Equal((Rows, GoodRows - 1L, 1L), (report.Read, report.Stored, report.Duplicates));
        Assert.Equal(ExpectedRejected, report.Rejected);
        Assert.Equal((4L, 3L, 1L), (report.RepeatedHourAsSummerTime, report.RepeatedHourAsWinterTime, report.SkippedHour));
        Assert.NotNull(report.FirstRejection);
    }

    [Fact]
    public async Task Every_field_arrives_and_the_first_of_two_rows_on_one_instant_wins()
    {
        using var original = BuildOriginal(out _);
        var store = await NewTargetAsync();

        await ImportAsync(original, store, 4);

        var history = await store.HistoryAsync(A, 100);
        var plain = history.Single(r => r.Measurement.Timestamp == Lines.T0).Measurement;
        Assert.Equal(new Measurement(A, "1", Lines.T0, "ATmega8_A_1", 711, 0, 18.614, 18.614, 12.176, 100, 100, 28, 11.67, 14.086,
            7, 20, 52.507309, 13.458635, 0x902), plain);
        // 02:30 in the spring gap (row 2) and 03:30 (row 4) are one instant: row 2 came first.
        Assert.Equal(12.2, history.Single(r => r.Measurement.Timestamp == At(2019, 3, 31, 3, 30, 0, 2)).Measurement.BatteryVoltage);
        var esp = (await store.HistoryAsync(B, 100)).Single(r => r.Measurement.Timestamp == At(2019, 1, 15, 12, 0, 0, 1)).Measurement;
        Assert.Null(esp.Status);
        Assert.True(esp.IsPowerSaveMode);
    }

    [Fact]
    public async Task Running_it_again_stores_nothing_and_counts_every_good_row_as_a_duplicate()
    {
        using var original = BuildOriginal(out _);
        var store = await NewTargetAsync();
        await ImportAsync(original, store, 4);
        var before = await store.HistoryAsync(A, 100);

        var again = await ImportAsync(original, store, 4);

        Assert.Equal((Rows, 0L, (long)GoodRows), (again.Read, again.Stored, again.Duplicates));
        Assert.Equal(ExpectedRejected, again.Rejected);
        Assert.Equal((4L, 3L, 1L), (again.RepeatedHourAsSummerTime, again.RepeatedHourAsWinterTime, again.SkippedHour));
        Assert.Equal(GoodRows - 1, await store.CountAsync());
        Assert.Equal(before, await store.HistoryAsync(A, 100));
    }

    [Fact]
    public async Task A_file_from_before_the_status_column_imports_with_no_status()
    {
        using var original = new OriginalCollectorDatabase(Temp.File("before-status.db"), withStatusColumn: false);
        original.Insert(A, "2018-05-05 18:00:00.000000");
        var store = await NewTargetAsync();

        var report = await ImportAsync(original, store, 10);

        Assert.Equal(1, report.Stored);
        var row = Assert.Single(await store.HistoryAsync(A, 10)).Measurement;
        Assert.Null(row.Status);
        Assert.Equal(At(2018, 5, 5, 18, 0, 0, 2), row.Timestamp);
    }

    public void Dispose()
    {
        foreach (var d in Enumerable.Reverse(_open)) d.Dispose();
        Temp.Dispose();
    }
}

/// <summary>Files that are not the original's database.</summary>
public sealed class LegacyDatabaseTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public void A_missing_file_says_it_does_not_exist()
    {
        var e = Assert.Throws<LegacyDatabaseException>(() => LegacyDatabase.Open(_temp.File("nope.db")));
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void A_file_that_is_not_sqlite_says_so()
    {
        File.WriteAllText(_temp.File("text.db"), "nodeId;1;1537249962;...\nthis is a log, not a database, and long enough to have a header\n");
        var e = Assert.Throws<LegacyDatabaseException>(() => LegacyDatabase.Open(_temp.File("text.db")));
        Assert.Contains("cannot be read as a SQLite database", e.Message);
    }

    [Fact]
    public async Task This_collectors_own_database_is_recognised_as_not_the_original()
    {
        using (var store = new MeasurementStore(DatabaseTarget.Sqlite(_temp.File("new.db"))))
        {
            store.Migrate();
            await store.WriteAsync([[Lines.Make("node-a", Lines.T0)]]);
        }
        var e = Assert.Throws<LegacyDatabaseException>(() => LegacyDatabase.Open(_temp.File("new.db")));
        Assert.Contains("no table 'measurement'", e.Message);
        Assert.Contains("database of this collector", e.Message);
    }

    [Fact]
    public void A_measurement_table_of_another_shape_names_the_missing_columns()
    {
        using (var other = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_temp.File("other.db")};Pooling=False"))
        {
            other.Open();
            using var command = other.CreateCommand();
            command.CommandText = "CREATE TABLE measurement (id INTEGER PRIMARY KEY, \"nodeId\" TEXT, timestamp DATETIME, value FLOAT)";
            command.ExecuteNonQuery();
        }
        var e = Assert.Throws<LegacyDatabaseException>(() => LegacyDatabase.Open(_temp.File("other.db")));
        Assert.Contains("lacks the column(s) isemsRevision, openMPPTFirmwareVersion", e.Message);
    }

    public void Dispose() => _temp.Dispose();
}

public sealed class BerlinTimeTests
{
    private static DateTime LastSunday(int year, int month)
    {
        var day = new DateTime(year, month, DateTime.DaysInMonth(year, month));
        return day.AddDays(-(int)day.DayOfWeek);
    }

    [Fact]
    public void The_hours_around_every_change_from_2001_to_2037_are_classified_and_converted()
    {
        for (var year = 2001; year <= 2037; year++)
        {
            var spring = LastSunday(year, 3);
            var autumn = LastSunday(year, 10);
            Assert.Equal(WallClockKind.Unique, BerlinTime.Classify(spring.AddHours(1).AddMinutes(59)));
            Assert.Equal(WallClockKind.Skipped, BerlinTime.Classify(spring.AddHours(2).AddMinutes(30)));
            Assert.Equal(WallClockKind.Unique, BerlinTime.Classify(spring.AddHours(3)));
            Assert.Equal(WallClockKind.Repeated, BerlinTime.Classify(autumn.AddHours(2)));
            Assert.Equal(WallClockKind.Unique, BerlinTime.Classify(autumn.AddHours(3)));

            var repeated = autumn.AddHours(2).AddMinutes(30);
            Assert.Equal(new DateTimeOffset(repeated, TimeSpan.FromHours(2)), BerlinTime.ToInstant(repeated, secondPass: false));
            Assert.Equal(new DateTimeOffset(repeated, TimeSpan.FromHours(1)), BerlinTime.ToInstant(repeated, secondPass: true));
            var skipped = spring.AddHours(2).AddMinutes(30);
            Assert.Equal(new DateTimeOffset(skipped, TimeSpan.FromHours(1)), BerlinTime.ToInstant(skipped, secondPass: false));
        }
    }

    [Theory]
    [InlineData("2018-09-18 07:52:42.000000")]
    [InlineData("2018-09-18 07:52:42")]
    [InlineData("2018-09-18T07:52:42")]
    [InlineData(" 2018-09-18 07:52:42.999999 ")] // fractions are dropped: the original stored whole seconds
    public void Both_text_forms_sqlalchemy_wrote_parse_to_the_same_instant(string text)
    {
        Assert.True(BerlinTime.TryParseWallClock(text, out var wallClock));
        Assert.Equal(1_537_249_962, BerlinTime.ToInstant(wallClock, secondPass: false).ToUnixTimeSeconds());
    }

    [Theory]
    [InlineData("")]
    [InlineData("18.09.2018 07:52:42")]
    [InlineData("2018-09-18 07:52:42+02:00")]
    [InlineData("1537249962")]
    public void Other_text_is_not_read(string text) => Assert.False(BerlinTime.TryParseWallClock(text, out _));
}

namespace Isems.Storage.Tests;

/// <summary>
/// Test classes that use the process's shared PostgreSQL server. They run one after another, because
/// <see cref="PostgresMeasurementStoreTests"/> stops and restarts that server.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection
{
    public const string Name = "PostgreSQL server";
}

using System.Reflection;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using Isems.Actors.Cluster;
using Isems.LineFormat;

namespace Isems.Actors.Tests;

/// <summary>
/// Every message that crosses between cluster members goes through <see cref="WireSerializer"/> and comes back whole:
/// each type of <see cref="WireSerializer.Types"/> is made with a value in every field (by reflection, so a message
/// added to the list is checked too), bound through Akka's own configuration as the cluster binds it, and written
/// again after the round trip: the two writings must be the same.
/// </summary>
public sealed class WireSerializerTests : Akka.TestKit.Xunit2.TestKit
{
    public WireSerializerTests() : base(Bindings(), "wire") { }

    private static Config Bindings()
    {
        var bindings = string.Join("\n", WireSerializer.Types.Select(t => $"\"{t.AssemblyQualifiedName}\" = isems-wire"));
        return ConfigurationFactory.ParseString($$"""
            akka.actor.serializers.isems-wire = "{{typeof(WireSerializer).AssemblyQualifiedName}}"
            akka.actor.serialization-identifiers."{{typeof(WireSerializer).AssemblyQualifiedName}}" = {{WireSerializer.SerializerId}}
            akka.actor.serialization-bindings {
            {{bindings}}
            }
            """);
    }

    public static TheoryData<string> Messages() => new(WireSerializer.Types.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Messages))]
    public void Each_message_crossing_members_comes_back_whole(string name)
    {
        var type = WireSerializer.Types.Single(t => t.Name == name);
        var message = Sample(type, 0);
        var serialization = Sys.Serialization;
        var serializer = Assert.IsType<WireSerializer>(serialization.FindSerializerFor(message));
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
        var bytes = serializer.ToBinary(message);
        var back = serialization.Deserialize(bytes, serializer.Identifier, manifest);

        Assert.IsType(type, back);
        Assert.Equal(System.Text.Encoding.UTF8.GetString(bytes), System.Text.Encoding.UTF8.GetString(serializer.ToBinary(back)));
        // Not an empty writing: the sample's values are in it (a field the serializer cannot see would be lost).
        if (type.GetConstructors().Max(c => c.GetParameters().Length) > 0) Assert.True(bytes.Length > 10, System.Text.Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void An_actor_reference_in_a_message_points_to_the_same_actor_after_the_trip()
    {
        var message = new ResyncFleet(TestActor, TestActor);
        var serializer = (WireSerializer)Sys.Serialization.FindSerializerFor(message);
        var back = (ResyncFleet)serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
        Assert.Equal(TestActor, back.Latest);
    }

    private object Sample(Type type, int depth)
    {
        if (type == typeof(string)) return "Elektra-Dach";
        if (type == typeof(int)) return 7;
        if (type == typeof(long)) return 1_733_000_000L;
        if (type == typeof(double)) return 12.5;
        if (type == typeof(bool)) return true;
        if (type == typeof(Uri)) return new Uri("http://10.36.158.33/ISEMS/ffopenmppt.log");
        if (type == typeof(DateTimeOffset)) return new DateTimeOffset(2026, 12, 2, 13, 0, 0, TimeSpan.Zero);
        if (type == typeof(TimeSpan)) return TimeSpan.FromSeconds(90);
        if (type == typeof(byte[])) return new byte[] { 1, 2, 3 };
        if (type == typeof(RejectionCounts)) return RejectionCounts.None.Add(RejectReason.Number, 2).Add(RejectReason.TimestampInFuture);
        if (typeof(IActorRef).IsAssignableFrom(type)) return TestActor;
        if (type.IsEnum) return Enum.GetValues(type).Cast<object>().Last();
        if (Nullable.GetUnderlyingType(type) is { } inner) return Sample(inner, depth);
        if (type.IsArray)
        {
            var array = Array.CreateInstance(type.GetElementType()!, 1);
            array.SetValue(Sample(type.GetElementType()!, depth + 1), 0);
            return array;
        }
        if (type.IsGenericType)
        {
            var definition = type.GetGenericTypeDefinition();
            var args = type.GetGenericArguments();
            if (definition == typeof(IReadOnlyList<>) || definition == typeof(IReadOnlyCollection<>) || definition == typeof(List<>))
            {
                var list = (System.Collections.IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(args[0]))!;
                list.Add(Sample(args[0], depth + 1));
                return list;
            }
            if (definition == typeof(IReadOnlyDictionary<,>) || definition == typeof(Dictionary<,>))
            {
                var dictionary = (System.Collections.IDictionary)Activator.CreateInstance(typeof(Dictionary<,>).MakeGenericType(args))!;
                dictionary.Add(Sample(args[0], depth + 1), Sample(args[1], depth + 1));
                return dictionary;
            }
            if (type.FullName!.StartsWith("System.ValueTuple", StringComparison.Ordinal))
                return Activator.CreateInstance(type, args.Select(a => Sample(a, depth + 1)).ToArray())!;
        }
        if (depth > 6) throw new InvalidOperationException($"{type} nests too deep for a sample");
        var constructor = type.GetConstructors(BindingFlags.Public | BindingFlags.Instance).MaxBy(c => c.GetParameters().Length)
            ?? throw new InvalidOperationException($"{type} has no public constructor");
        return constructor.Invoke(constructor.GetParameters().Select(p => Sample(p.ParameterType, depth + 1)).ToArray());
    }
}

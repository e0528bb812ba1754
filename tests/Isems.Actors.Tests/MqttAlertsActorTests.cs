using System.Diagnostics.Metrics;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Isems.Actors.Alerts;
using Isems.Actors.Mqtt;
using Xunit.Abstractions;

namespace Isems.Actors.Tests;

/// <summary>
/// The alert publisher against a probe in the broker link's place, on virtual time: one publication per topic at a
/// time, only the newest change waiting, bounded retries with backoff, counted, and published again once the link is up.
/// </summary>
public sealed class MqttAlertsActorTests(ITestOutputHelper output) : TestKit(CollectorTestKit.VirtualTime, output: output)
{
    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private static readonly DateTimeOffset Since = new(2026, 12, 2, 4, 0, 0, TimeSpan.Zero);

    private static Alert Firing(string node = "Elektra-Dach") => NodeAlerts.Make("BatteryLow", node, AlertState.Firing, Since, null);

    private static Alert Resolved(string node = "Elektra-Dach") => NodeAlerts.Make("BatteryLow", node, AlertState.Resolved, Since, Since.AddMinutes(5));

    [Fact]
    public void A_topic_gets_its_alert_as_json_then_only_its_newest_change_and_never_two_at_once()
    {
        var bridge = CreateTestProbe();
        var publisher = Sys.ActorOf(MqttAlertsActor.Props(bridge.Ref, CollectorMetrics.None));
        AwaitStarted(publisher);

        Sys.EventStream.Publish(new AlertRecorded(Firing()));
        var first = bridge.ExpectMsg<PublishRetained>();
        Assert.Equal("isems/alerts/Elektra-Dach/BatteryLow", first.Topic);
        var json = JsonNode.Parse(first.Payload)!;
        Assert.Equal(("BatteryLow", "Elektra-Dach", "critical", "firing", "2026-12-02T04:00:00.000Z", null),
            ((string?)json["alertname"], (string?)json["nodeId"], (string?)json["severity"], (string?)json["state"], (string?)json["startsAt"], (string?)json["endsAt"]));

        // Two more changes while the first is under way: the topic waits for its answer, then gets only the newest.
        Sys.EventStream.Publish(new AlertRecorded(Resolved()));
        Sys.EventStream.Publish(new AlertRecorded(Firing() with { StartsAt = Since.AddMinutes(9) }));
        Sys.EventStream.Publish(new AlertRecorded(Resolved()));
        bridge.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        publisher.Tell(new RetainedPublished(first.Topic));
        var newest = bridge.ExpectMsg<PublishRetained>();
        Assert.Empty(newest.Payload); // resolved: an empty retained message clears the topic
        publisher.Tell(new RetainedPublished(newest.Topic));
        bridge.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // Other topics go side by side; wildcards in a node id are escaped.
        Sys.EventStream.Publish(new AlertRecorded(Firing("a+b#c%")));
        Assert.Equal("isems/alerts/a%2Bb%23c%25/BatteryLow", bridge.ExpectMsg<PublishRetained>().Topic);
    }

    [Fact]
    public void A_publication_the_broker_never_takes_is_retried_with_backoff_counted_after_5_attempts_and_sent_again_once_the_link_is_up()
    {
        using var meter = new Meter("test-mqtt-alerts-" + Guid.NewGuid());
        long failed = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Meter == meter) l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (instrument.Name == "isems_alert_deliveries_failed" && tags.ToArray().Any(t => t.Key == "target" && (string?)t.Value == "mqtt"))
                Interlocked.Add(ref failed, value);
        });
        listener.Start();
        var bridge = CreateTestProbe();
        AwaitStarted(Sys.ActorOf(MqttAlertsActor.Props(bridge.Ref, new CollectorMetrics(meter))));

        Sys.EventStream.Publish(new AlertRecorded(Firing()));
        for (var attempt = 1; attempt <= MqttAlertsActor.Attempts; attempt++)
        {
            var publish = bridge.ExpectMsg<PublishRetained>();
            bridge.Reply(new RetainedNotPublished(publish.Topic, "the broker link is down"));
            if (attempt == MqttAlertsActor.Attempts) break;
            // Backoff: nothing before the delay (1 s, then doubling), the next attempt after it.
            var delay = TimeSpan.FromSeconds(Math.Pow(2, attempt - 1));
            bridge.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // (real time: the actor has armed its timer)
            Scheduler.Advance(delay - TimeSpan.FromMilliseconds(100));
            bridge.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
            Scheduler.Advance(TimeSpan.FromMilliseconds(100));
        }
        AwaitCondition(() => Interlocked.Read(ref failed) == 1, TimeSpan.FromSeconds(3));
        bridge.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Scheduler.Advance(TimeSpan.FromMinutes(10));
        bridge.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // given up on, until the link is up

        Sys.EventStream.Publish(MqttLinkUp.Instance);
        var again = bridge.ExpectMsg<PublishRetained>();
        Assert.Equal("isems/alerts/Elektra-Dach/BatteryLow", again.Topic);
        Assert.NotEmpty(again.Payload);
        bridge.Reply(new RetainedPublished(again.Topic));
        Sys.EventStream.Publish(MqttLinkUp.Instance);
        bridge.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // delivered: nothing left to send
        Assert.Equal(1, Interlocked.Read(ref failed));
    }

    /// <summary>The actor subscribes in PreStart: an event published before that would be missed by the test, not by the collector.</summary>
    private static void AwaitStarted(Akka.Actor.IActorRef actor) =>
        actor.Ask<Akka.Actor.ActorIdentity>(new Akka.Actor.Identify(null), TimeSpan.FromSeconds(3)).GetAwaiter().GetResult();
}

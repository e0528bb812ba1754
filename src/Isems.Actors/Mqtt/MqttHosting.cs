using Akka.Hosting;
using Isems.Actors.Nodes;

namespace Isems.Actors.Mqtt;

/// <summary>The MQTT bridge in Akka.Hosting: the broker link, routing pushed lines to the node actors.</summary>
public static class MqttHosting
{
    /// <summary>Needs <see cref="NodesHosting.WithNodeActors"/> before it.</summary>
    public static AkkaConfigurationBuilder WithMqttBridge(this AkkaConfigurationBuilder builder, MqttOptions options) =>
        builder.WithActors((system, registry, _) =>
            registry.Register<MqttBridgeActor>(system.ActorOf(MqttBridgeActor.Props(options, registry.Get<NodeManagerActor>()), "mqtt")));
}

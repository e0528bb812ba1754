using Akka.Actor;

namespace Isems.Actors.Cluster;

/// <summary>The membership as <c>GET /cluster</c> shows it (SPEC §9).</summary>
public sealed record ClusterStateView(
    string Mode, string? Self, string? Leader, IReadOnlyList<ClusterMemberView> Members, IReadOnlyList<string> Unreachable);

public sealed record ClusterMemberView(string Address, string Status, IReadOnlyList<string> Roles);

/// <summary>
/// Reads this member's view of the cluster from Akka.Cluster's own state (kept current by the cluster extension, safe
/// to read from any thread): no actor to ask. In one process it says so, with no members.
/// </summary>
public static class ClusterView
{
    public static bool IsCluster(ActorSystem system) =>
        ((ExtendedActorSystem)system).Provider is Akka.Cluster.ClusterActorRefProvider;

    public static ClusterStateView Read(ActorSystem system)
    {
        if (!IsCluster(system)) return new ClusterStateView("single", null, null, [], []);
        var cluster = Akka.Cluster.Cluster.Get(system);
        var state = cluster.State;
        return new ClusterStateView(
            "cluster",
            cluster.SelfAddress.ToString(),
            state.Leader?.ToString(),
            state.Members.OrderBy(m => m.Address.ToString(), StringComparer.Ordinal)
                .Select(m => new ClusterMemberView(m.Address.ToString(), m.Status.ToString(), m.Roles.Order(StringComparer.Ordinal).ToArray()))
                .ToArray(),
            state.Unreachable.Select(m => m.Address.ToString()).Order(StringComparer.Ordinal).ToArray());
    }

    /// <summary>This member is Up (null in one process, where there is no membership to wait for).</summary>
    public static bool? SelfUp(ActorSystem system) =>
        IsCluster(system) ? Akka.Cluster.Cluster.Get(system).SelfMember.Status == Akka.Cluster.MemberStatus.Up : null;
}

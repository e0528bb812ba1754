using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Isems.Actors.Alerts;
using Isems.Actors.Nodes;

namespace Isems.Actors.Registry;

/// <summary>
/// The nodes the collector is configured to poll, and the one place that changes them, including their identity: a
/// node known only by its address is moved to its id once its first good poll tells it (<see cref="IdentifyNode"/>). Every change is an event in
/// the journal (Akka.Persistence.Sql), applied to the registry's state and then told to the node actors, so what
/// operators configured comes back after any restart or crash, and the node actors never need to remember it.
/// Commands are handled one at a time, and the state changes only once its event is stored, so a change is applied
/// whole or not at all, and concurrent requests never see a half-added node.
/// </summary>
public sealed class NodeRegistryActor : ReceivePersistentActor
{
    public const string RegistryPersistenceId = "node-registry";

    /// <summary>Events between snapshots: a registry of thousands of nodes recovers from one snapshot and a few events.</summary>
    public const int SnapshotEvery = 200;

    private readonly IActorRef _nodes;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, RegisteredNode> _byId = new(StringComparer.Ordinal);

    // URLs of nodes from configuration an operator removed: they stay removed although ISEMS_ROUTER_IPS still names them.
    private readonly HashSet<string> _removedConfigured = new(StringComparer.Ordinal);

    // False once a merge was held in memory only: from then on nothing may be snapshotted, as it is not in the journal.
    private bool _persisting = true;

    // Which node polls a URL: asked for every add and for every entry of ISEMS_ROUTER_IPS at start.
    private readonly Dictionary<string, string> _idByUrl = new(StringComparer.Ordinal);

    // Which registered node has a key (its node actor's): no two nodes may share one.
    private readonly Dictionary<string, string> _idByKey = new(StringComparer.Ordinal);
    private long _snapshotAt;

    // Merged in at every recovery (ISEMS_ROUTER_IPS): none in tests and tools that only recover.
    private readonly IReadOnlyList<Uri>? _configured;
    private readonly bool _persistMerge;
    private readonly IActorRef? _loader;
    private readonly CollectorStartup? _startup;

    public override string PersistenceId { get; }

    // Told to the start-up, which then polls the configured nodes without the registry (the actor stops here and its
    // supervisor starts it again with backoff).
    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _startup?.RegistryFailedToStart();
        base.OnRecoveryFailure(reason, message);
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        if (@event is ConfigurationMerged) _startup?.RegistryFailedToStart();
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        if (@event is ConfigurationMerged) _startup?.RegistryFailedToStart();
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    /// <param name="persistenceId">The registry's stream in the journal; tests give each registry one of its own.</param>
    /// <param name="configured">ISEMS_ROUTER_IPS, merged in once the journal is recovered (one event),
    /// with the ids the saved bookmarks name, asked of <paramref name="loader"/>.</param>
    /// <param name="persistMerge">False: the merge is held in memory only (the one-shot update-data).</param>
    /// <param name="startup">Told when the merge is done.</param>
    public static Props Props(IActorRef nodes, string persistenceId = RegistryPersistenceId, IReadOnlyList<Uri>? configured = null,
        bool persistMerge = true, IActorRef? loader = null, CollectorStartup? startup = null) =>
        Akka.Actor.Props.Create(() => new NodeRegistryActor(nodes, persistenceId, configured, persistMerge, loader, startup));

    public NodeRegistryActor(IActorRef nodes, string persistenceId, IReadOnlyList<Uri>? configured, bool persistMerge,
        IActorRef? loader, CollectorStartup? startup)
    {
        _nodes = nodes;
        PersistenceId = persistenceId;
        _configured = configured;
        _persistMerge = persistMerge;
        _loader = loader;
        _startup = startup;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not RegistrySnapshot snapshot) return;
            _snapshotAt = offer.Metadata.SequenceNr;
            foreach (var node in snapshot.Nodes) Register(node);
            _removedConfigured.UnionWith(snapshot.RemovedConfiguredUrls);
        });
        Recover<IRegistryEvent>(Apply);
        Recover<RecoveryCompleted>(_ =>
        {
            _log.Info("Node registry recovered: {0} nodes", _byId.Count);
            foreach (var node in _byId.Values)
            {
                _nodes.Tell(Polling(node, pollAtOnce: false));
                if (node.MutedAlerts is { Length: > 0 } muted) _nodes.Tell(new MuteAlerts(node.Key, muted));
            }
            // The configured nodes are merged in now, with the ids their saved bookmarks name (asked, never awaited).
            if (_configured is null) return;
            if (_loader is null) Self.Tell(new LoggedIds(null));
            else _loader.Tell(GetLoggedIds.Instance, Self);
        });

        Command<AddNode>(OnAdd);
        Command<ChangeNode>(OnChange);
        Command<RemoveNode>(OnRemove);
        Command<LoggedIds>(logged => OnMerge(_configured ?? [], logged.ByLogUrl));
        Command<IdentifyNode>(OnIdentified);
        // Cluster mode: a node entity started anew on a member (after a member's death or a rebalance) asks for its
        // settings, as the registry told them at its start; a key the registry does not know gets nothing.
        Command<RecallNode>(recall =>
        {
            var node = _byId.Values.FirstOrDefault(n => n.Key == recall.NodeKey);
            if (node is null) return;
            Sender.Tell(Polling(node, pollAtOnce: false));
            if (node.MutedAlerts is { Length: > 0 } muted) Sender.Tell(new MuteAlerts(node.Key, muted));
        });
        Command<CountRegisteredNodes>(_ => Sender.Tell(new RegisteredNodeCount(_byId.Count)));
        Command<GetRegisteredNodes>(_ => Sender.Tell(new RegistryEntries(Sorted())));
        Command<GetRegisteredNode>(get =>
            Sender.Tell(Find(get.Id) is { } node ? new RegistryEntry(node) : NotFound(get.Id)));

        Command<SaveSnapshotSuccess>(saved =>
            DeleteSnapshots(new SnapshotSelectionCriteria(saved.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(failed =>
            _log.Warning("Saving the node registry's snapshot failed (the events are kept): {0}", failed.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    private void OnAdd(AddNode add)
    {
        if (_byId.ContainsKey(add.Id))
        {
            Sender.Tell(new RegistryRefusal(RefusalKind.Conflict,
                $"A node with id '{add.Id}' is already registered. Change it with PATCH /admin/nodes/{add.Id}, or remove it first."));
            return;
        }
        if (OwnerOf(add.Url, exceptId: null) is { } owner)
        {
            Sender.Tell(UrlTaken(add.Url, owner));
            return;
        }
        if (_idByKey.TryGetValue(add.Id, out var identified))
        {
            Sender.Tell(new RegistryRefusal(RefusalKind.Conflict,
                $"The node '{identified}' ({_byId[identified].Url}) is already known by the id '{add.Id}' its lines carry. Change or remove that node first."));
            return;
        }
        var now = Now;
        var node = new RegisteredNode(add.Id, add.Url, add.IntervalSeconds, add.TimeoutSeconds, add.Enabled, add.Note,
            NodeSource.Operator, ChangedByOperator: true, now, now, Key: add.Id, add.MutedAlerts is { Length: > 0 } m ? m : null);
        var replyTo = Sender;
        Persist(new NodeAdded(node), added =>
        {
            Apply(added);
            _log.Info("Node {0} added at {1}", node.Id, node.Url);
            SnapshotIfDue();
            _nodes.Tell(Polling(node, pollAtOnce: true));
            // Always told: an actor left from a node removed earlier under this id may still mute what it muted then.
            _nodes.Tell(new MuteAlerts(node.Key, node.Muted));
            replyTo.Tell(new RegistryEntry(node));
        });
    }

    private void OnChange(ChangeNode change)
    {
        if (!_byId.TryGetValue(change.Id, out var before))
        {
            Sender.Tell(NotFound(change.Id));
            return;
        }
        var after = change.Changes.ApplyTo(before, Now);
        if (after.Url != before.Url && OwnerOf(after.Url, exceptId: after.Id) is { } owner)
        {
            Sender.Tell(UrlTaken(after.Url, owner));
            return;
        }
        var replyTo = Sender;
        Persist(new NodeChanged(after), changed =>
        {
            Apply(changed);
            _log.Info("Node {0} changed", after.Id);
            SnapshotIfDue();
            // A new address, or a node just enabled, is fetched at once: the operator wants to see it work.
            var pollAtOnce = after.Url != before.Url || (after.Enabled && !before.Enabled);
            _nodes.Tell(Polling(after, pollAtOnce));
            if (!after.Muted.SequenceEqual(before.Muted)) _nodes.Tell(new MuteAlerts(after.Key, after.Muted));
            replyTo.Tell(new RegistryEntry(after));
        });
    }

    private void OnRemove(RemoveNode remove)
    {
        if (!_byId.TryGetValue(remove.Id, out var node))
        {
            Sender.Tell(NotFound(remove.Id));
            return;
        }
        var replyTo = Sender;
        Persist(new NodeRemoved(node.Id, ByOperator: node.Source == NodeSource.Configuration), removed =>
        {
            Apply(removed);
            _log.Info("Node {0} removed{1}", node.Id, remove.Purge ? ", with its stored rows" : "");
            SnapshotIfDue();
            // The node actor answers: it knows the id its lines carry, whose rows a purge deletes.
            _nodes.Tell(new RetireNode(node.Key, remove.Purge), replyTo);
        });
    }

    /// <summary>
    /// ISEMS_ROUTER_IPS merged in after recovery: nodes added under new URLs, configured nodes whose URL left the list
    /// dropped, unless an operator changed or removed them, which wins. Without persisting (the one-shot
    /// <c>update-data</c>, which may run beside the service) the merge is held in memory only and never written.
    /// <paramref name="loggedIds"/>: by log URL (<see cref="Uri.AbsoluteUri"/>), the node id a stored log bookmark says its
    /// lines carry: a node added under such a URL is registered under that id at once, not under its address until its
    /// next good poll (a fleet polled before the registry recorded identity would otherwise get a second actor per node).
    /// The start-up is told once it is applied.
    /// </summary>
    private void OnMerge(IReadOnlyList<Uri> urls, IReadOnlyDictionary<string, string>? loggedIds)
    {
        // Entries are matched by URL: a node already registered under it (from configuration or by an operator) is
        // left as it is, and one an operator removed stays removed.
        var added = new List<RegisteredNode>();
        var planned = new HashSet<string>(StringComparer.Ordinal);
        var suffixes = new Dictionary<string, int>(StringComparer.Ordinal); // per host, the next number to try
        var plannedKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var url in urls)
        {
            if (_removedConfigured.Contains(url.ToString()) || OwnerOf(url, exceptId: null) is not null) continue;
            var id = ConfiguredId(url, planned, suffixes);
            planned.Add(id);
            // Identified by an earlier poll (its bookmark names the id its lines carry): keyed by that id from the start,
            // unless another node has the key already (two addresses serving one node id stay under their addresses).
            var key = url.ToString();
            if (loggedIds is { } logged && logged.TryGetValue(url.AbsoluteUri, out var nodeId)
                && !_idByKey.ContainsKey(nodeId) && plannedKeys.Add(nodeId))
                key = nodeId;
            added.Add(new RegisteredNode(id, url, null, null, Enabled: true, Note: null,
                NodeSource.Configuration, ChangedByOperator: false, Now, Now, Key: key));
        }
        var wanted = urls.Select(u => u.AbsoluteUri).ToHashSet(StringComparer.Ordinal);
        var gone = _byId.Values
            .Where(n => n.Source == NodeSource.Configuration && !n.ChangedByOperator && !wanted.Contains(n.Url.AbsoluteUri))
            .ToList();

        void Merged()
        {
            if (added.Count + gone.Count > 0)
                _log.Info("ISEMS_ROUTER_IPS merged into the node registry: {0} added, {1} gone", added.Count, gone.Count);
            foreach (var node in gone) _nodes.Tell(new RetireNode(node.Key, PurgeRows: false));
            foreach (var node in added) _nodes.Tell(Polling(node, pollAtOnce: false));
            _startup?.RegistryMerged();
        }

        // One event for the whole merge: a fleet of 100,000 configured nodes is one journal write, not 100,000.
        var merged = new ConfigurationMerged([.. added], [.. gone.Select(n => n.Id)]);
        if (!_persistMerge)
        {
            _persisting = false;
            Apply(merged);
            Merged();
            return;
        }
        if (added.Count + gone.Count == 0)
        {
            Merged();
            return;
        }
        Persist(merged, e =>
        {
            Apply(e);
            Merged();
            SnapshotIfDue(force: added.Count + gone.Count >= SnapshotEvery);
        });
    }

    /// <summary>
    /// A node known by its address told its id: recorded, then the actor under the address is stopped (it hands
    /// nothing on) and the node polled under its id from now on. Ignored for a node no longer registered, and when
    /// another node already has that key (two addresses serving one node id: both stay as they are, and the operator
    /// is told in the log). A one-shot run (<c>update-data</c>) records nothing.
    /// </summary>
    private void OnIdentified(IdentifyNode identified)
    {
        if (!_persisting || !_idByKey.TryGetValue(identified.NodeKey, out var id) || identified.NodeKey == identified.NodeId)
        {
            Sender.Tell(new IdentityKept(identified.NodeKey));
            return;
        }
        if (_idByKey.TryGetValue(identified.NodeId, out var other))
        {
            _log.Warning("Node {0} at {1} carries the id {2}, which node {3} already has; it stays under its address",
                id, _byId[id].Url, identified.NodeId, other);
            Sender.Tell(new IdentityKept(identified.NodeKey));
            return;
        }
        Persist(new NodeIdentified(id, identified.NodeId), e =>
        {
            Apply(e);
            _log.Info("Node {0} is identified as {1}", id, identified.NodeId);
            SnapshotIfDue();
            // The actor under the id first, so a poll the one under the address still holds can be sent on to it.
            var polling = Polling(_byId[id], pollAtOnce: false);
            _nodes.Tell(polling is StartPolling start ? start with { MovedFrom = identified.Snapshot } : polling);
            _nodes.Tell(new StopNode(identified.NodeKey, identified.NodeId));
            if (_byId[id].MutedAlerts is { Length: > 0 } muted) _nodes.Tell(new MuteAlerts(identified.NodeId, muted));
        });
    }

    private void Apply(IRegistryEvent @event)
    {
        switch (@event)
        {
            case NodeAdded added:
                Register(added.Node);
                _removedConfigured.Remove(added.Node.Url.ToString());
                break;
            case NodeChanged changed:
                Unregister(changed.Node.Id);
                Register(changed.Node);
                break;
            case NodeRemoved removed:
                if (Unregister(removed.Id) is { } node && removed.ByOperator) _removedConfigured.Add(node.Url.ToString());
                break;
            case ConfigurationMerged merged:
                foreach (var configured in merged.Added) Register(configured);
                foreach (var id in merged.GoneIds) Unregister(id);
                break;
            case NodeIdentified identified when _byId.TryGetValue(identified.Id, out var known):
                Unregister(known.Id);
                Register(known with { Key = identified.NodeId });
                break;
        }
    }

    private void Register(RegisteredNode node)
    {
        _byId[node.Id] = node;
        _idByUrl[node.Url.AbsoluteUri] = node.Id;
        _idByKey[node.Key] = node.Id;
    }

    private RegisteredNode? Unregister(string id)
    {
        if (!_byId.Remove(id, out var node)) return null;
        _idByUrl.Remove(node.Url.AbsoluteUri);
        _idByKey.Remove(node.Key);
        return node;
    }

    /// <summary>
    /// After a command's event is stored: a snapshot every so many events, or after a large merge, so a restart
    /// replays few and small events.
    /// </summary>
    private void SnapshotIfDue(bool force = false)
    {
        if (!_persisting || (!force && LastSequenceNr - _snapshotAt < SnapshotEvery)) return;
        _snapshotAt = LastSequenceNr;
        SaveSnapshot(new RegistrySnapshot(_byId.Values.ToArray(), _removedConfigured.ToArray()));
    }

    private static INodeMessage Polling(RegisteredNode node, bool pollAtOnce)
    {
        if (!node.Enabled) return new StopPolling(node.Key, node.Url);
        var settings = new NodePollSettings(
            node.IntervalSeconds is { } interval ? TimeSpan.FromSeconds(interval) : null,
            node.TimeoutSeconds is { } timeout ? TimeSpan.FromSeconds(timeout) : null);
        return new StartPolling(node.Key, node.Url, settings, pollAtOnce);
    }

    /// <summary>
    /// A node from configuration is named by its address (<c>10.36.158.33</c>, <c>host:8080</c>); a second URL on the
    /// same host gets <c>~2</c>, and so on.
    /// </summary>
    private string ConfiguredId(Uri url, IReadOnlySet<string> planned, Dictionary<string, int> suffixes)
    {
        var host = url.Authority;
        var id = host;
        // Numbering goes on where it stopped for this host: many URLs behind one host are numbered in one pass.
        var n = suffixes.GetValueOrDefault(host, 2);
        while (_byId.ContainsKey(id) || planned.Contains(id)) id = $"{host}~{n++}";
        suffixes[host] = n;
        return id;
    }

    /// <summary>A node by its registered id, or by its key (the id its lines carry, once identified).</summary>
    private RegisteredNode? Find(string id) =>
        _byId.TryGetValue(id, out var node) ? node : _idByKey.TryGetValue(id, out var byKey) ? _byId[byKey] : null;

    private string? OwnerOf(Uri url, string? exceptId) =>
        _idByUrl.TryGetValue(url.AbsoluteUri, out var id) && id != exceptId ? id : null;

    private static RegistryRefusal UrlTaken(Uri url, string owner) => new(RefusalKind.Conflict,
        $"{url} is already polled as node '{owner}'. Change or remove that node first.");

    private static RegistryRefusal NotFound(string id) => new(RefusalKind.NotFound,
        $"No node '{id}' is registered. GET /admin/nodes lists the registered nodes.");

    private List<RegisteredNode> Sorted() => _byId.Values.OrderBy(n => n.Id, StringComparer.Ordinal).ToList();

    private DateTimeOffset Now => Context.System.Scheduler.Now;
}

using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Dispatch;
using Akka.Event;
using MelLogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Isems.Server.Hosting;

/// <summary>The host's logger factory, handed to the actor system so its log goes where every other log goes.</summary>
public sealed class LogBridgeSetup(ILoggerFactory factory) : Setup
{
    public ILoggerFactory Factory { get; } = factory;
}

/// <summary>
/// Akka's log, written through Microsoft.Extensions.Logging: under the category of the class that logged (so
/// <c>Isems.Actors.Nodes.NodeActor</c>, not one category for all of Akka), with Akka's own message template and
/// arguments (so JSON logs keep them as fields), and the actor's path as a scope. Akka's
/// <c>[INFO][date][thread][path]</c> prefix is left out: the host's formatter has the level and the time.
/// </summary>
public sealed class AkkaLogBridge : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    public AkkaLogBridge()
    {
        var factory = Context.System.Settings.Setup.Get<LogBridgeSetup>().Value.Factory;
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            var logger = factory.CreateLogger(e.LogClass?.FullName ?? e.LogSource);
            var level = e.LogLevel() switch
            {
                Akka.Event.LogLevel.DebugLevel => MelLogLevel.Debug,
                Akka.Event.LogLevel.InfoLevel => MelLogLevel.Information,
                Akka.Event.LogLevel.WarningLevel => MelLogLevel.Warning,
                _ => MelLogLevel.Error,
            };
            if (!logger.IsEnabled(level)) return;
            using var scope = logger.BeginScope(new Dictionary<string, object> { ["ActorPath"] = e.LogSource });
            if (e.Message is LogMessage message)
                logger.Log(level, e.Cause, message.Format, message.Parameters().ToArray());
            else
                logger.Log(level, e.Cause, "{Message}", e.Message);
        });
    }
}

using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Isems.Server.Configuration;

/// <summary>
/// Every setting of the collector, under the environment variable names an existing deployment of the original
/// already uses (SPEC §4). Each may also come from appsettings.json or the command line (<c>--POLL_RETRIES=5</c>).
/// </summary>
public sealed class CollectorOptions
{
    /// <summary><c>sqlite:////abs/path.db</c>, <c>sqlite:///relative.db</c> or <c>postgresql://user:pass@host:port/db</c>.</summary>
    [ConfigurationKeyName("DATABASE_URL")]
    public string? DatabaseUrl { get; set; }

    /// <summary>Text on purpose: a value that is not an integer falls back to 30 with a warning, as the original did.</summary>
    [ConfigurationKeyName("HIDE_INACTIVE_AFTER_DAYS")]
    public string? HideInactiveAfterDays { get; set; }

    /// <summary>Comma-separated nodes to poll: IPs, <c>host:port</c>, or full URLs.</summary>
    [ConfigurationKeyName("ISEMS_ROUTER_IPS")]
    public string? RouterIps { get; set; }

    [ConfigurationKeyName("POLL_INTERVAL_SECONDS")]
    [Range(10, 86_400, ErrorMessage = "POLL_INTERVAL_SECONDS must be between 10 and 86400 (one day).")]
    public int PollIntervalSeconds { get; set; } = 900;

    [ConfigurationKeyName("POLL_TIMEOUT_SECONDS")]
    [Range(1, 600, ErrorMessage = "POLL_TIMEOUT_SECONDS must be between 1 and 600.")]
    public int PollTimeoutSeconds { get; set; } = 10;

    [ConfigurationKeyName("POLL_RETRIES")]
    [Range(0, 10, ErrorMessage = "POLL_RETRIES must be between 0 and 10.")]
    public int PollRetries { get; set; } = 3;

    /// <summary>Broker host to subscribe to; unset means no MQTT (unless the embedded broker runs).</summary>
    [ConfigurationKeyName("MQTT_SERVER")]
    public string? MqttServer { get; set; }

    [ConfigurationKeyName("MQTT_PORT")]
    [Range(1, 65535, ErrorMessage = "MQTT_PORT must be a TCP port (1..65535).")]
    public int MqttPort { get; set; } = 1883;

    [ConfigurationKeyName("MQTT_USERNAME")]
    public string? MqttUsername { get; set; }

    [ConfigurationKeyName("MQTT_PASSWORD")]
    public string? MqttPassword { get; set; }

    [ConfigurationKeyName("MQTT_TLS")]
    public bool MqttTls { get; set; }

    /// <summary>With MQTT_TLS: the CA (PEM or DER file) that signed the broker's certificate, trusted instead of the system's.</summary>
    [ConfigurationKeyName("MQTT_TLS_CA_FILE")]
    public string? MqttTlsCaFile { get; set; }

    /// <summary>Comma-separated topic filters, subscribed with QoS 1.</summary>
    [ConfigurationKeyName("MQTT_TOPICS")]
    public string MqttTopics { get; set; } = "/isems/+/csvlog,isems/+/csvlog,/isems/+/data.json,isems/+/data.json";

    [ConfigurationKeyName("MQTT_CLIENT_ID")]
    public string? MqttClientId { get; set; }

    [ConfigurationKeyName("MQTT_SILENCE_MINUTES")]
    [Range(1, 10_080, ErrorMessage = "MQTT_SILENCE_MINUTES must be between 1 and 10080 (a week).")]
    public int MqttSilenceMinutes { get; set; } = 10;

    /// <summary>NodeSilent fires when a node has sent no new measurement for this long (fractions allowed, for tests).</summary>
    [ConfigurationKeyName("ALERT_SILENT_MINUTES")]
    [Range(0.05, 10_080, ErrorMessage = "ALERT_SILENT_MINUTES must be between 0.05 and 10080 (a week).")]
    public double AlertSilentMinutes { get; set; } = 45;

    /// <summary>NodeDown fires when a node's polls have failed for this long.</summary>
    [ConfigurationKeyName("ALERT_DOWN_MINUTES")]
    [Range(0.05, 10_080, ErrorMessage = "ALERT_DOWN_MINUTES must be between 0.05 and 10080 (a week).")]
    public double AlertDownMinutes { get; set; } = 30;

    /// <summary>Prometheus Alertmanager's base URL: alerts are posted to its v2 API.</summary>
    [ConfigurationKeyName("ALERTMANAGER_URL")]
    [Url(ErrorMessage = "ALERTMANAGER_URL must be an http(s) URL, such as http://localhost:9093.")]
    public string? AlertmanagerUrl { get; set; }

    /// <summary>Each alert change is POSTed here as a JSON array (Alertmanager's form).</summary>
    [ConfigurationKeyName("ALERT_WEBHOOK_URL")]
    [Url(ErrorMessage = "ALERT_WEBHOOK_URL must be an http(s) URL.")]
    public string? AlertWebhookUrl { get; set; }

    /// <summary>Runs an MQTT broker inside the collector on this port; the bridge then subscribes to it.</summary>
    [ConfigurationKeyName("MQTT_EMBEDDED_BROKER_PORT")]
    [Range(1, 65535, ErrorMessage = "MQTT_EMBEDDED_BROKER_PORT must be a TCP port (1..65535).")]
    public int? MqttEmbeddedBrokerPort { get; set; }

    /// <summary>The bearer token the admin API asks for; unset, the admin API is off (403 with how to turn it on).</summary>
    [ConfigurationKeyName("ISEMS_ADMIN_TOKEN")]
    public string? AdminToken { get; set; }

    /// <summary>Rows older than this many days are deleted, hourly, in small batches; unset keeps every row.</summary>
    [ConfigurationKeyName("RETENTION_DAYS")]
    [Range(1, 36_500, ErrorMessage = "RETENTION_DAYS must be between 1 and 36500.")]
    public int? RetentionDays { get; set; }

    /// <summary>Each node keeps its newest this many rows (the original's manual script kept 20000); unset keeps all.</summary>
    [ConfigurationKeyName("RETENTION_ROWS_PER_NODE")]
    [Range(100, 100_000_000, ErrorMessage = "RETENTION_ROWS_PER_NODE must be between 100 and 100000000.")]
    public int? RetentionRowsPerNode { get; set; }

    /// <summary>
    /// Hourly and daily rollups older than this many days are deleted; unset keeps them (RETENTION_DAYS and
    /// RETENTION_ROWS_PER_NODE delete raw rows only, so years of hourly history stay in little space).
    /// </summary>
    [ConfigurationKeyName("RETENTION_ROLLUP_DAYS")]
    [Range(1, 36_500, ErrorMessage = "RETENTION_ROLLUP_DAYS must be between 1 and 36500.")]
    public int? RetentionRollupDays { get; set; }

    /// <summary><c>text</c> (default) or <c>json</c>: one JSON object per log line, for journald or a log shipper.</summary>
    [ConfigurationKeyName("LOG_FORMAT")]
    [RegularExpression("^(text|json)$", ErrorMessage = "LOG_FORMAT must be 'text' or 'json'.")]
    public string LogFormat { get; set; } = "text";

    /// <summary>Errors (and the warnings before them, as breadcrumbs) go to Sentry when set.</summary>
    [ConfigurationKeyName("SENTRY_DSN")]
    public string? SentryDsn { get; set; }

    /// <summary>Where the Akka settings are read from; by default the <c>hocon/akka.conf</c> shipped beside the binary.</summary>
    [ConfigurationKeyName("AKKA_CONF")]
    public string? AkkaConf { get; set; }

    /// <summary>This member's address as the other cluster members reach it; any CLUSTER_* setting makes a cluster (SPEC §9).</summary>
    [ConfigurationKeyName("CLUSTER_HOSTNAME")]
    public string? ClusterHostname { get; set; }

    /// <summary>Akka remoting's port of this member. Text, so a wrong value is told as a cluster setting.</summary>
    [ConfigurationKeyName("CLUSTER_PORT")]
    public string? ClusterPort { get; set; }

    /// <summary>Comma-separated <c>host:port</c> of the seed members; list every member.</summary>
    [ConfigurationKeyName("CLUSTER_SEEDS")]
    public string? ClusterSeeds { get; set; }

    /// <summary>The cluster settings, or null for one process (none set). Throws FormatException on a bad value.</summary>
    public Isems.Actors.Cluster.ClusterSettings? Cluster =>
        Isems.Actors.Cluster.ClusterSettings.Parse(ClusterHostname, ClusterPort, ClusterSeeds);

    public const int DefaultHideInactiveAfterDays = 30;

    /// <summary>HIDE_INACTIVE_AFTER_DAYS as a number, or null when it is set to something that is not an integer.</summary>
    public int? ParsedHideInactiveAfterDays =>
        string.IsNullOrWhiteSpace(HideInactiveAfterDays) ? DefaultHideInactiveAfterDays
        : int.TryParse(HideInactiveAfterDays.Trim(), out var days) ? days : null;
}

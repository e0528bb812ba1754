namespace Isems.Dashboard;

/// <summary>A node's state in words, with a symbol and a colour class, so the state never rests on colour alone.</summary>
public static class NodeStates
{
    public static (string Word, string Symbol, string Css) Describe(string? state) => state switch
    {
        "up" => ("up", "●", "state-up"),
        "down" => ("down", "▼", "state-down"),
        "pushing" => ("pushing (MQTT)", "↑", "state-up"),
        "disabled" => ("disabled", "◌", "state-disabled"),
        "unknown" or null => ("not polled yet", "?", "state-unknown"),
        _ => (state, "•", "state-unknown"),
    };
}

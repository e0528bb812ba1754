namespace Isems.Dashboard;

/// <summary>The dashboard's settings.</summary>
/// <param name="TileUrl">
/// <c>DASHBOARD_TILE_URL</c>: a slippy-map tile template such as <c>https://tiles.example.net/{z}/{x}/{y}.png</c>. Unset
/// (the default, and what a mesh without internet needs): the map draws positions on a plain grid, loading nothing.
/// </param>
public sealed record DashboardOptions(string? TileUrl);

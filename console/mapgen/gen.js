// Generates ../assets/world.svg: country outlines from world-atlas
// (Natural Earth 1:110m, public domain; world-atlas ISC) in an
// equirectangular projection, one <path> per country whose id is its
// ISO 3166-1 alpha-2 code (numeric ids mapped with i18n-iso-countries, MIT).
// Run: cd console/mapgen && npm ci && node gen.js > ../assets/world.svg
"use strict";
const topo = require("topojson-client");
const iso = require("i18n-iso-countries");
const world = require("world-atlas/countries-110m.json");
const fc = topo.feature(world, world.objects.countries);
const W = 960, H = 480; // 2.667 px per degree; y cut at 90N..90S
const X = (lon) => ((lon + 180) * W) / 360;
const Y = (lat) => ((90 - lat) * H) / 180;
const byName = { Kosovo: "XK", "N. Cyprus": "CY", Somaliland: "SO" };
const r = (v) => Math.round(v);
// A ring that crosses the antimeridian is unwrapped (longitudes made
// continuous) and drawn twice, once shifted by 360 degrees; the viewBox
// clips what falls outside.
function ring(coords) {
  const pts = [];
  let prev = null;
  for (const [lon0, lat] of coords) {
    let lon = lon0;
    if (prev !== null) while (lon - prev > 180) lon -= 360;
    if (prev !== null) while (prev - lon > 180) lon += 360;
    pts.push([lon, lat]);
    prev = lon;
  }
  const lons = pts.map((p) => p[0]);
  const min = Math.min(...lons), max = Math.max(...lons);
  let d = path(pts, 0);
  if (max > 180) d += path(pts, -360);
  if (min < -180) d += path(pts, 360);
  return d;
}
function path(pts, shift) {
  let d = "", px = null, py = null, n = 0;
  for (const [lon, lat] of pts) {
    const x = r(X(lon + shift)), y = r(Y(lat));
    if (x === px && y === py) continue;
    d += (n === 0 ? "M" : "L") + x + " " + y;
    px = x; py = y; n++;
  }
  return n >= 3 ? d + "Z" : "";
}
const out = new Map();
for (const f of fc.features) {
  const code = (f.id && iso.numericToAlpha2(f.id)) || byName[f.properties.name];
  if (!code) { process.stderr.write("skipped: " + f.properties.name + "\n"); continue; }
  const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
  let d = "";
  for (const p of polys) for (const rg of p) d += ring(rg);
  if (!d) continue;
  const prev = out.get(code);
  out.set(code, { name: prev ? prev.name : f.properties.name, d: (prev ? prev.d : "") + d });
}
const codes = [...out.keys()].sort();
let s = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" id="worldmap" role="img" aria-label="World map by region">\n`;
for (const c of codes) {
  const { name, d } = out.get(c);
  s += `<path id="c-${c}" data-cc="${c}" d="${d}"><title>${name.replace(/&/g, "&amp;")} (${c})</title></path>\n`;
}
s += "</svg>\n";
process.stdout.write(s);

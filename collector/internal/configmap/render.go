package configmap

import (
	"bufio"
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ZoneInfo is what the map's pictures say about a zone: its name, its kind
// (external, internal, sensitive), the zone it is part of and its purpose.
type ZoneInfo struct {
	Name, Kind, Parent, Purpose string
}

// Area is one zone of the map with the entries placed in it. The area of
// entries without a zone has an empty Zone.Name.
type Area struct {
	Zone    ZoneInfo
	Entries []Entry
	Counts  map[State]int
}

// Areas groups entries by zone: the zones in the order given (also those
// without entries), then zones only the entries name (sorted), then the
// entries without a zone when there are any. Zone names compare
// case-insensitively; entries keep their order.
func Areas(entries []Entry, zones []ZoneInfo) []Area {
	out := make([]Area, 0, len(zones)+1)
	idx := make(map[string]int, len(zones))
	for _, z := range zones {
		k := strings.ToLower(z.Name)
		if _, dup := idx[k]; dup || z.Name == "" {
			continue
		}
		idx[k] = len(out)
		out = append(out, Area{Zone: z, Counts: map[State]int{}})
	}
	known := len(out)
	var none *Area
	for _, e := range entries {
		if e.Zone == "" {
			if none == nil {
				none = &Area{Counts: map[State]int{}}
			}
			none.Entries = append(none.Entries, e)
			none.Counts[e.State]++
			continue
		}
		k := strings.ToLower(e.Zone)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Area{Zone: ZoneInfo{Name: e.Zone}, Counts: map[State]int{}})
		}
		out[i].Entries = append(out[i].Entries, e)
		out[i].Counts[e.State]++
	}
	slices.SortStableFunc(out[known:], func(a, b Area) int { return cmp.Compare(a.Zone.Name, b.Zone.Name) })
	if none != nil {
		out = append(out, *none)
	}
	return out
}

// DefaultMaxPerZone is how many entries a zone shows in a picture before
// the rest are counted as "+N".
const DefaultMaxPerZone = 40

// RenderOptions tune WriteSVG and WriteDOT.
type RenderOptions struct {
	// Zones are the zones to draw, in order (see Areas).
	Zones []ZoneInfo
	// Links are the observed zone-to-zone flows with their verdict; nil
	// takes the map's own Links.
	Links []Link
	// MaxPerZone is the number of entries drawn per zone before the rest
	// are aggregated; DefaultMaxPerZone when 0, no limit when negative.
	MaxPerZone int
	// Labels replace the pictures' English texts, by key: the states
	// ("matched", ...), "title", "desc", "legend", "no_zone", "part_of",
	// "allowed", "not_allowed", "flows", "more" (a format with one %d).
	Labels map[string]string
	// Location is the time zone of the title's time; UTC when nil.
	Location *time.Location
}

var defaultLabels = map[string]string{
	string(Matched):      "matched",
	string(Silent):       "silent",
	string(Unregistered): "unregistered",
	string(Conflict):     "conflict",
	"title":              "Configuration map",
	"desc":               "Zones with the assets, agents and devices in them, coloured and labelled by state.",
	"legend":             "States",
	"no_zone":            "No zone",
	"part_of":            "part of",
	"allowed":            "allowed",
	"not_allowed":        "not allowed",
	"flows":              "flows",
	"more":               "+%d more",
}

func (o RenderOptions) label(key string) string {
	if v, ok := o.Labels[key]; ok && v != "" {
		return v
	}
	return defaultLabels[key]
}

func (o RenderOptions) max() int {
	switch {
	case o.MaxPerZone == 0:
		return DefaultMaxPerZone
	case o.MaxPerZone < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxPerZone
}

func (o RenderOptions) links(m Map) []Link {
	if o.Links != nil {
		return o.Links
	}
	return m.Links
}

func (o RenderOptions) when(t time.Time) string {
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// areaTitle is the label of an area: its name, kind and parent.
func (o RenderOptions) areaTitle(a Area) string {
	if a.Zone.Name == "" {
		return o.label("no_zone")
	}
	s := a.Zone.Name
	if a.Zone.Kind != "" {
		s += " (" + a.Zone.Kind + ")"
	}
	if a.Zone.Parent != "" {
		s += ", " + o.label("part_of") + " " + a.Zone.Parent
	}
	return s
}

// tileName is what a tile says: the hostname, else the key.
func tileName(e Entry) string { return cmp.Or(e.Hostname, e.Key(), "?") }

// State colours: fill and border; the text is dark on every fill (WCAG AA).
var stateColours = map[State][2]string{
	Matched:      {"#d9f2df", "#1e6b34"},
	Silent:       {"#fff0c2", "#8a6300"},
	Unregistered: {"#fde0de", "#a8201a"},
	Conflict:     {"#efdcf7", "#6a1b9a"},
}

func colours(s State) [2]string {
	if c, ok := stateColours[s]; ok {
		return c
	}
	return [2]string{"#eeeeee", "#555555"}
}

// SVG layout, in pixels.
const (
	svgCols     = 3   // zones per grid row
	svgTileCols = 3   // tiles per row within a zone
	svgTileW    = 120 // tile width
	svgTileH    = 34
	svgGap      = 6
	svgPad      = 12
	svgHead     = 44 // zone label and counts
	svgZoneW    = svgPad*2 + svgTileCols*svgTileW + (svgTileCols-1)*svgGap
	svgMargin   = 20
	svgTop      = 96 // title and legend
	svgTileRune = 18 // characters of a name a tile shows
)

// esc returns s escaped for XML text and attributes; characters XML cannot
// carry become U+FFFD.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// clip shortens s to n runes, ending in "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// oneLine replaces line breaks and tabs with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

// WriteSVG draws the map as an SVG 1.1 picture: a title with the map's time,
// a legend, and each zone as a labelled rounded rectangle in a grid holding
// one tile per entry (coloured and labelled by state), at most
// RenderOptions.MaxPerZone of them, then "+N". The layout depends only on
// the input. The picture has no scripts and no external references.
func WriteSVG(w io.Writer, m Map, o RenderOptions) error {
	areas := Areas(m.Entries, o.Zones)
	limit := o.max()
	// Each area's height, then each grid row's.
	heights := make([]int, len(areas))
	for i, a := range areas {
		n := min(len(a.Entries), limit)
		if len(a.Entries) > n {
			n++ // the "+N" tile
		}
		rows := (n + svgTileCols - 1) / svgTileCols
		heights[i] = svgHead + svgPad + rows*(svgTileH+svgGap)
	}
	var rowH []int
	for i := 0; i < len(areas); i += svgCols {
		rowH = append(rowH, slices.Max(heights[i:min(i+svgCols, len(heights))]))
	}
	width := svgMargin*2 + svgCols*svgZoneW + (svgCols-1)*svgMargin
	height := svgTop + svgMargin
	for _, h := range rowH {
		height += h + svgMargin
	}

	bw := bufio.NewWriter(w)
	title := o.label("title") + " – " + o.when(m.At)
	fmt.Fprintf(bw, `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="map-title map-desc" font-family="sans-serif">
<title id="map-title">%s</title>
<desc id="map-desc">%s</desc>
<rect x="0" y="0" width="%d" height="%d" fill="#ffffff"/>
<text x="%d" y="34" font-size="20" font-weight="bold" fill="#1a1a1a">%s</text>
`, width, height, width, height, esc(title), esc(o.label("desc")), width, height, svgMargin, esc(title))

	// Legend.
	x := svgMargin
	fmt.Fprintf(bw, `<g id="legend"><text x="%d" y="68" font-size="13" fill="#1a1a1a">%s:</text>`+"\n", x, esc(o.label("legend")))
	x += 80
	for _, st := range States {
		c := colours(st)
		fmt.Fprintf(bw, `<rect x="%d" y="55" width="16" height="16" rx="3" fill="%s" stroke="%s"/><text x="%d" y="68" font-size="13" fill="#1a1a1a">%s (%d)</text>`+"\n",
			x, c[0], c[1], x+22, esc(o.label(string(st))), m.Counts[st])
		x += 170
	}
	fmt.Fprint(bw, "</g>\n")

	y := svgTop
	for i, a := range areas {
		col := i % svgCols
		if i > 0 && col == 0 {
			y += rowH[i/svgCols-1] + svgMargin
		}
		zx := svgMargin + col*(svgZoneW+svgMargin)
		writeSVGArea(bw, a, zx, y, heights[i], limit, o)
	}
	fmt.Fprint(bw, "</svg>\n")
	return bw.Flush()
}

func writeSVGArea(bw *bufio.Writer, a Area, x, y, h, limit int, o RenderOptions) {
	fill, stroke := "#f6f8fa", "#57606a"
	if a.Zone.Name == "" {
		fill = "#fbfbfb"
	}
	fmt.Fprintf(bw, `<g class="zone"><rect x="%d" y="%d" width="%d" height="%d" rx="12" ry="12" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n",
		x, y, svgZoneW, h, fill, stroke)
	fmt.Fprintf(bw, `<text x="%d" y="%d" font-size="14" font-weight="bold" fill="#1a1a1a">%s</text>`+"\n",
		x+svgPad, y+20, esc(clip(oneLine(o.areaTitle(a)), 52)))
	var counts []string
	for _, st := range States {
		if n := a.Counts[st]; n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, o.label(string(st))))
		}
	}
	fmt.Fprintf(bw, `<text x="%d" y="%d" font-size="11" fill="#3d444d">%s</text>`+"\n",
		x+svgPad, y+36, esc(strings.Join(counts, " · ")))
	shown := a.Entries[:min(len(a.Entries), limit)]
	for j, e := range shown {
		tx := x + svgPad + (j%svgTileCols)*(svgTileW+svgGap)
		ty := y + svgHead + (j/svgTileCols)*(svgTileH+svgGap)
		c := colours(e.State)
		name := oneLine(tileName(e))
		fmt.Fprintf(bw, `<g class="tile"><title>%s: %s</title><rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="%s" stroke="%s"/>`+
			`<text x="%d" y="%d" font-size="11" fill="#1a1a1a">%s</text><text x="%d" y="%d" font-size="9" fill="#1a1a1a">%s</text></g>`+"\n",
			esc(name), esc(o.label(string(e.State))), tx, ty, svgTileW, svgTileH, c[0], c[1],
			tx+5, ty+14, esc(clip(name, svgTileRune)), tx+5, ty+28, esc(o.label(string(e.State))))
	}
	if rest := len(a.Entries) - len(shown); rest > 0 {
		j := len(shown)
		tx := x + svgPad + (j%svgTileCols)*(svgTileW+svgGap)
		ty := y + svgHead + (j/svgTileCols)*(svgTileH+svgGap)
		fmt.Fprintf(bw, `<g class="more"><rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="#ffffff" stroke="#57606a" stroke-dasharray="4 2"/><text x="%d" y="%d" font-size="12" fill="#1a1a1a">%s</text></g>`+"\n",
			tx, ty, svgTileW, svgTileH, tx+8, ty+21, esc(fmt.Sprintf(o.label("more"), rest)))
	}
	fmt.Fprint(bw, "</g>\n")
}

// dotQuote returns s as a quoted DOT string: backslashes and quotes escaped,
// line breaks as DOT's \n, other control characters dropped.
func dotQuote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r' || r == utf8.RuneError:
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// WriteDOT writes the map as a Graphviz digraph: one cluster per zone
// (labelled with name, kind and parent), one node per entry labelled with
// its name and state (RenderOptions.MaxPerZone applies as in WriteSVG; pass
// a negative one for every entry), and an edge per observed zone-to-zone
// flow labelled with its verdict and number of flows.
func WriteDOT(w io.Writer, m Map, o RenderOptions) error {
	areas := Areas(m.Entries, o.Zones)
	limit := o.max()
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "digraph configmap {\n  graph [label=%s, labelloc=t, compound=true, fontname=\"Helvetica\"];\n",
		dotQuote(o.label("title")+" – "+o.when(m.At)))
	fmt.Fprint(bw, "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n")
	anchor := make(map[string]string, len(areas)) // zone name -> a node inside its cluster
	n := 0
	for i, a := range areas {
		fmt.Fprintf(bw, "  subgraph cluster_%d {\n    label=%s;\n    style=rounded;\n", i, dotQuote(o.areaTitle(a)))
		id := fmt.Sprintf("zone_%d", i)
		fmt.Fprintf(bw, "    %s [shape=point, style=invis, label=\"\"];\n", id)
		if a.Zone.Name != "" {
			anchor[strings.ToLower(a.Zone.Name)] = id
		}
		shown := a.Entries[:min(len(a.Entries), limit)]
		for _, e := range shown {
			c := colours(e.State)
			fmt.Fprintf(bw, "    e%d [label=%s, fillcolor=%s, color=%s];\n", n,
				dotQuote(tileName(e)+"\n"+o.label(string(e.State))), dotQuote(c[0]), dotQuote(c[1]))
			n++
		}
		if rest := len(a.Entries) - len(shown); rest > 0 {
			fmt.Fprintf(bw, "    more_%d [label=%s, style=dashed];\n", i, dotQuote(fmt.Sprintf(o.label("more"), rest)))
		}
		fmt.Fprint(bw, "  }\n")
	}
	for _, l := range o.links(m) {
		from, ok1 := anchor[strings.ToLower(l.From)]
		to, ok2 := anchor[strings.ToLower(l.To)]
		if !ok1 || !ok2 || from == to {
			continue
		}
		verdict, colour := o.label("allowed"), "#1e6b34"
		if !l.Allowed {
			verdict, colour = o.label("not_allowed"), "#a8201a"
		}
		fmt.Fprintf(bw, "  %s -> %s [label=%s, color=%s, fontcolor=%s, ltail=cluster_%s, lhead=cluster_%s];\n",
			from, to, dotQuote(fmt.Sprintf("%s (%s: %d)", verdict, o.label("flows"), l.Flows)),
			dotQuote(colour), dotQuote(colour), strings.TrimPrefix(from, "zone_"), strings.TrimPrefix(to, "zone_"))
	}
	fmt.Fprint(bw, "}\n")
	return bw.Flush()
}

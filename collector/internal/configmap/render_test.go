package configmap

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/model"
)

const hostile = "evil\"<host>&\\name\nline2"

func renderMap() (Map, RenderOptions) {
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	m := Map{At: at, Counts: map[State]int{}}
	add := func(e Entry) {
		m.Entries = append(m.Entries, e)
		m.Counts[e.State]++
	}
	add(Entry{State: Matched, Kind: KindAsset, Asset: &model.Asset{Tag: "A-1"}, Hostname: hostile, Zone: "skole", AgentIDs: []string{"ag1"}})
	add(Entry{State: Silent, Kind: KindAsset, Asset: &model.Asset{Tag: "A-2"}, Zone: "helse"})
	for i := range 45 {
		add(Entry{State: Unregistered, Kind: KindDevice, MACs: []string{fmt.Sprintf("aa:bb:cc:00:00:%02x", i)}, Zone: "Skole"})
	}
	add(Entry{State: Conflict, Kind: KindAgent, AgentIDs: []string{"ag9"}, Hostname: "loose"})
	add(Entry{State: Unregistered, Kind: KindAgent, AgentIDs: []string{"ag8"}, Zone: "gjest"})
	o := RenderOptions{
		Zones: []ZoneInfo{{Name: "skole", Kind: "internal", Purpose: "Undervisning"}, {Name: "helse", Kind: "sensitive", Parent: "skole & <co>"}, {Name: "tom"}},
		Links: []Link{{From: "skole", To: "helse", Flows: 3, Allowed: false}, {From: "helse", To: "skole", Flows: 1, Allowed: true}},
	}
	return m, o
}

func TestAreas(t *testing.T) {
	m, o := renderMap()
	as := Areas(m.Entries, o.Zones)
	var names []string
	for _, a := range as {
		names = append(names, fmt.Sprintf("%s:%d", a.Zone.Name, len(a.Entries)))
	}
	if got, want := strings.Join(names, " "), "skole:46 helse:1 tom:0 gjest:1 :1"; got != want {
		t.Errorf("areas = %q, want %q", got, want)
	}
	if as[0].Counts[Unregistered] != 45 || as[0].Counts[Matched] != 1 {
		t.Errorf("skole counts = %v", as[0].Counts)
	}
}

func TestWriteSVG(t *testing.T) {
	m, o := renderMap()
	var b bytes.Buffer
	if err := WriteSVG(&b, m, o); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	// It parses as XML, and its root is an SVG 1.1 svg element.
	d := xml.NewDecoder(strings.NewReader(svg))
	var root string
	var titles int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
				if se.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("root namespace = %q", se.Name.Space)
				}
			}
			if se.Name.Local == "title" {
				titles++
			}
			if se.Name.Local == "script" || se.Name.Local == "image" || se.Name.Local == "foreignObject" {
				t.Errorf("SVG has a %s element", se.Name.Local)
			}
		}
	}
	if root != "svg" || titles == 0 {
		t.Errorf("root %q, %d titles", root, titles)
	}
	for _, want := range []string{
		`version="1.1"`, "<desc", "Configuration map – 2026-03-02 09:30 UTC",
		"evil&#34;&lt;host&gt;&amp;\\name", // escaped, the line break a space
		"helse (sensitive), part of skole &amp; &lt;co&gt;",
		"+6 more", "No zone", "unregistered (46)", "#fde0de",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(svg, "<host>") || strings.Contains(svg, "href") {
		t.Errorf("SVG carries raw markup or a reference")
	}
	// 40 tiles in skole + 1 + 1 + 1.
	if n := strings.Count(svg, `<g class="tile">`); n != 43 {
		t.Errorf("%d tiles, want 43", n)
	}
	// Deterministic.
	var b2 bytes.Buffer
	_ = WriteSVG(&b2, m, o)
	if b2.String() != svg {
		t.Errorf("two renderings differ")
	}
	// Labels replace the English.
	o.Labels = map[string]string{"matched": "I samsvar", "more": "og %d til"}
	b.Reset()
	_ = WriteSVG(&b, m, o)
	if !strings.Contains(b.String(), "I samsvar") || !strings.Contains(b.String(), "og 6 til") {
		t.Errorf("labels not used")
	}
}

func TestWriteSVGEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSVG(&b, Map{}, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		t.Errorf("empty SVG does not parse: %v", err)
	}
}

func TestWriteDOT(t *testing.T) {
	m, o := renderMap()
	o.MaxPerZone = -1
	var b bytes.Buffer
	if err := WriteDOT(&b, m, o); err != nil {
		t.Fatal(err)
	}
	dot := b.String()
	for _, want := range []string{
		"digraph configmap {",
		`e0 [label="evil\"<host>&\\name\nline2\nmatched"`,
		`label="helse (sensitive), part of skole & <co>"`,
		`zone_0 -> zone_1 [label="not allowed (flows: 3)"`,
		`zone_1 -> zone_0 [label="allowed (flows: 1)"`,
		`label="No zone"`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %s\n%s", want, dot)
		}
	}
	if n := strings.Count(dot, "subgraph cluster_"); n != 5 {
		t.Errorf("%d clusters, want 5", n)
	}
	// Every quoted string is closed: no raw line break inside quotes.
	quoted := regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"`)
	rest := quoted.ReplaceAllString(dot, "Q")
	if strings.ContainsAny(rest, `"\`) {
		t.Errorf("unbalanced quoting:\n%s", rest)
	}
}

func TestDotQuote(t *testing.T) {
	for in, want := range map[string]string{
		``:             `""`,
		`a"b`:          `"a\"b"`,
		`a\b`:          `"a\\b"`,
		"a\nb\r":       `"a\nb"`,
		"x\x00y":       `"x y"`,
		`} -> evil {`:  `"} -> evil {"`,
		"\\\"\n":       `"\\\"\n"`,
		"ok\xffbroken": `"okbroken"`,
	} {
		if got := dotQuote(in); got != want {
			t.Errorf("dotQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func BenchmarkWriteSVGPackage5000(b *testing.B) {
	m := Map{At: time.Now(), Counts: map[State]int{}}
	for i := range 5000 {
		e := Entry{State: States[i%4], Kind: KindAgent, AgentIDs: []string{fmt.Sprint("agent", i)}, Hostname: fmt.Sprint("pc-", i), Zone: fmt.Sprint("z", i%8)}
		m.Entries = append(m.Entries, e)
		m.Counts[e.State]++
	}
	for b.Loop() {
		_ = WriteSVG(io.Discard, m, RenderOptions{})
	}
}

package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sonevakt/sonevakt/collector/internal/configmap"
)

// exportMap reads the map filters, builds the map and returns the entries
// that pass them (with their counts), and the options to draw it with in
// the user's language: the zones of the zone map, and the zone links judged
// by the firewall map when one is loaded.
func (s *Server) exportMap(r *http.Request) (configmap.Map, configmap.RenderOptions, error) {
	f, err := mapQuery(r)
	if err != nil {
		return configmap.Map{}, configmap.RenderOptions{}, err
	}
	m, err := s.currentMap(r.Context())
	if err != nil {
		return configmap.Map{}, configmap.RenderOptions{}, err
	}
	if f.any() {
		m.Entries = filterMap(m, f)
		m.Counts = map[configmap.State]int{}
		for _, e := range m.Entries {
			m.Counts[e.State]++
		}
	}
	lang := langFrom(r.Context())
	o := configmap.RenderOptions{Zones: s.zoneInfos(), Location: time.Local, Labels: map[string]string{
		"title": translate(lang, "configmap.title"), "no_zone": translate(lang, "configmap.no_zone"),
	}}
	for _, st := range configmap.States {
		o.Labels[string(st)] = translate(lang, "configmap.state."+string(st))
	}
	for _, k := range []string{"desc", "legend", "part_of", "allowed", "not_allowed", "flows", "more"} {
		o.Labels[k] = translate(lang, "configmap.svg."+k)
	}
	if zm := s.zoneMap(); zm != nil {
		rules := pairRules(zm)
		o.Links = make([]configmap.Link, len(m.Links))
		for i, l := range m.Links {
			l.Allowed = len(rules[[2]string{l.From, l.To}]) > 0
			o.Links[i] = l
		}
	}
	return m, o, nil
}

// serveMapFile writes the map drawn by write as a download named
// configmap-YYYYMMDD.<ext> (the map's date in the server's zone).
func (s *Server) serveMapFile(w http.ResponseWriter, r *http.Request, ctype, ext string,
	write func(io.Writer, configmap.Map, configmap.RenderOptions) error, tune func(*configmap.RenderOptions)) {
	m, o, err := s.exportMap(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if tune != nil {
		tune(&o)
	}
	var buf bytes.Buffer
	if err := write(&buf, m, o); err != nil {
		s.fail(w, r, fmt.Errorf("draw the configuration map: %w", err))
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="configmap-%s.%s"`, m.At.Local().Format("20060102"), ext))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) handleConfigMapSVG(w http.ResponseWriter, r *http.Request) {
	s.serveMapFile(w, r, "image/svg+xml", "svg", configmap.WriteSVG, nil)
}

// handleConfigMapDOT draws every entry: a graph tool lays out what a
// picture could not.
func (s *Server) handleConfigMapDOT(w http.ResponseWriter, r *http.Request) {
	s.serveMapFile(w, r, "text/vnd.graphviz; charset=utf-8", "dot", configmap.WriteDOT,
		func(o *configmap.RenderOptions) { o.MaxPerZone = -1 })
}

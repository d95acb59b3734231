package web

import "net/http"

// Stubs until this file is written.
func (s *Server) handleConfigMapSVG(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (s *Server) handleConfigMapDOT(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }

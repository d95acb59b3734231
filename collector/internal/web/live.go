package web

import "net/http"

// Stubs until this file is written.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }
func (s *Server) handleJS(w http.ResponseWriter, r *http.Request)     { http.NotFound(w, r) }

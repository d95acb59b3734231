package sqlstore

import (
	"context"
	"fmt"

	"github.com/sonevakt/sonevakt/pkg/wire"
)

// EachHostSoftware calls fn with every agent's installed packages, one agent
// at a time in agent id order, from the software index Ingest keeps. It
// stops at fn's first error and returns it.
func (db *DB) EachHostSoftware(ctx context.Context, fn func(agentID, hostname string, pkgs []wire.Package) error) error {
	rows, err := db.r.QueryContext(ctx, `SELECT s.agent_id, a.hostname, s.name, s.version, s.arch, s.source, s.publisher, s.scope, s.install_date
		FROM software s JOIN agents a ON a.id = s.agent_id
		ORDER BY s.agent_id`)
	if err != nil {
		return fmt.Errorf("read software of every host: %w", err)
	}
	defer rows.Close()
	var agent, host string
	var pkgs []wire.Package
	for rows.Next() {
		var id, h string
		var p wire.Package
		if err := rows.Scan(&id, &h, &p.Name, &p.Version, &p.Arch, &p.Source, &p.Publisher, &p.Scope, &p.InstallDate); err != nil {
			return fmt.Errorf("read software of every host: %w", err)
		}
		if id != agent && len(pkgs) > 0 {
			if err := fn(agent, host, pkgs); err != nil {
				return err
			}
			pkgs = pkgs[:0]
		}
		agent, host = id, h
		pkgs = append(pkgs, p)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read software of every host: %w", err)
	}
	if len(pkgs) > 0 {
		return fn(agent, host, pkgs)
	}
	return nil
}

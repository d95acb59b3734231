package app

import (
	"errors"
	"io"

	"github.com/sonevakt/sonevakt/collector/internal/model"
	"github.com/sonevakt/sonevakt/collector/internal/register"
	"github.com/sonevakt/sonevakt/collector/internal/web"
)

// webParseAssetsCSV reads an asset register upload for web.Config's
// ParseAssetsCSV. A file that is unusable as a whole (empty, a bad header)
// is refused even when only the valid lines were asked for.
func webParseAssetsCSV(r io.Reader, validOnly bool) ([]model.Asset, []web.CSVProblem, error) {
	assets, rep, err := register.ParseAssetsCSV(r, register.ParseOptions{ValidOnly: validOnly})
	if err != nil {
		return nil, nil, err
	}
	if rep.Fatal && validOnly {
		return nil, nil, errors.New(rep.Error())
	}
	var ps []web.CSVProblem
	for _, p := range rep.Problems {
		ps = append(ps, web.CSVProblem{Line: p.Line, Message: p.Message})
	}
	return assets, ps, nil
}

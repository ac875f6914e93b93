package reports

import (
	"bytes"
	"encoding/csv"
	"path/filepath"
)

// WriteCSV writes a header and rows to dir/name atomically.
func WriteCSV(dir, name string, header []string, rows [][]string) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(header); err != nil {
		return err
	}
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, name), b.Bytes())
}

#pragma once
// The run report: one self-contained HTML file (inline SVG, no scripts, no network) built from
// the files of a run directory: config.json, metrics.jsonl, summary.json, and when present
// calibration.json (reliability, confusion) and grads.jsonl (gradient norms per layer).
#include <string>

namespace gradflow {

// Writes <run_dir>/report.html atomically and returns its path; InputError naming a missing or
// malformed file.
std::string write_report(const std::string& run_dir);

}  // namespace gradflow

# The instruction-count guard of scripts/count-instructions: compares this run's added
# instructions per operation with the checked-in baseline (bench/instructions.baseline).
#
#   awk [-v prog=count-instructions] [-v limit=2] -f scripts/lib/compare-counts.awk BASELINE NOW
#
# (scripts/count-instructions --compare NOW BASELINE runs it; scripts/test-count-guard tests it.)
# It reads the two files itself, in BEGIN, so an empty one is still told from the other.
#
# Both files have one row per operation,
#     KEY ADDED [# OPERATION]
# KEY the loop suffix (count_safe_KEY / count_raw_KEY in bench/benches/post_poll.rs: [a-z0-9_]),
# ADDED the safe-minus-raw instructions per operation with at most one decimal, as the table
# prints it (33.8, +33.8, -0.3), OPERATION the table's name for it (only shown in messages).
# Blank lines and lines whose first non-blank is # are skipped; any other line is an error
# naming the file and line, and then nothing is compared. Values are compared in tenths
# (integers), so +2.0 is exactly the limit and passes while +2.1 fails, free of the rounding of
# binary fractions (in doubles, 4.4 - 2.4 > 2).
#
# Exit 0: every row within LIMIT above its baseline (rows more than LIMIT below get a note to
# lower the baseline). Exit 1: a row grew by more than LIMIT, a row of one file is missing from
# the other, a key repeats, the baseline has no rows, or a line is malformed. Failures go to
# stderr, notes and the verdict to stdout.

function err(msg) { print prog ": " msg > "/dev/stderr" }
# V matched the ADDED pattern: an optional sign, digits, an optional one-digit fraction.
function tenths(v,    neg, t) {
  neg = v ~ /^-/
  sub(/^[+-]/, "", v)
  t = index(v, ".") ? substr(v, 1, index(v, ".") - 1) * 10 + substr(v, index(v, ".") + 1) : v * 10
  return neg ? -t : t
}
function shown(t) { return sprintf("%.1f", t / 10) }
function signed(t) { return sprintf("%+.1f", t / 10) }
function label(k) {
  if (name["now", k] != "") return k " (" name["now", k] ")"
  if (name["base", k] != "") return k " (" name["base", k] ")"
  return k
}

# Reads FILE's rows into value[WHICH, KEY] (tenths), name[WHICH, KEY], at[WHICH, KEY] (its line)
# and order[WHICH, 1..n]; returns n. Bad lines are reported and counted in `malformed`.
function load(which, file,    line, n, rc, f, key, desc, where) {
  n = 0
  while ((rc = (getline line < file)) > 0) {
    lineno[which]++
    if (line ~ /^[ \t]*(#|$)/) continue
    where = file ":" lineno[which]
    split(line, f)
    if (f[1] !~ /^[a-z0-9_]+$/ || f[2] !~ /^[+-]?[0-9]+(\.[0-9])?$/ || (f[3] != "" && f[3] !~ /^#/)) {
      err(where ": malformed line (want KEY ADDED [# OPERATION], KEY of [a-z0-9_], ADDED like 33.8): " line)
      malformed++
      continue
    }
    key = f[1]
    if ((which, key) in value) {
      err(where ": row '" key "' repeats (first at line " at[which, key] ")")
      malformed++
      continue
    }
    desc = ""
    if (f[3] != "") {
      desc = substr(line, index(line, "#") + 1)
      sub(/^[ \t]+/, "", desc)
      sub(/[ \t]+$/, "", desc)
    }
    value[which, key] = tenths(f[2])
    name[which, key] = desc
    at[which, key] = lineno[which]
    order[which, ++n] = key
  }
  if (rc < 0) { err(file ": cannot read it"); malformed++ }
  close(file)
  return n
}

BEGIN {
  if (prog == "") prog = "compare-counts"
  if (limit == "") limit = 2
  if (limit !~ /^[0-9]+(\.[0-9])?$/) { err("limit '" limit "' is not a number like 2 or 2.5"); exit 1 }
  if (ARGC != 3) { err("usage: awk [-v limit=2] -f compare-counts.awk BASELINE NOW"); exit 1 }
  limit_t = tenths(limit)
  base_file = ARGV[1]
  now_file = ARGV[2]
  nbase = load("base", base_file)
  nnow = load("now", now_file)
  if (malformed) {
    err(malformed " bad line(s); nothing compared (the format is in the baseline's header;" \
      " scripts/count-instructions --update-baseline rewrites it)")
    exit 1
  }
  if (nbase == 0) {
    err(base_file ": the baseline has no rows; write it with scripts/count-instructions --update-baseline")
    exit 1
  }
  fails = 0
  for (i = 1; i <= nnow; i++) {
    k = order["now", i]
    if (!(("base", k) in value)) {
      err("FAIL " label(k) ": in this run (added " shown(value["now", k]) ") but not in the baseline " \
        base_file "; a new operation gets its row with --update-baseline")
      fails++
      continue
    }
    d = value["now", k] - value["base", k]
    if (d > limit_t) {
      err("FAIL " label(k) ": added " shown(value["now", k]) " instructions per operation, baseline " \
        shown(value["base", k]) " (" signed(d) ", more than " shown(limit_t) ")")
      fails++
    } else if (-d > limit_t) {
      print prog ": note: " label(k) ": added " shown(value["now", k]) ", baseline " shown(value["base", k]) \
        " (" signed(d) "): lower the baseline to keep the win (--update-baseline, with the reason in the commit)"
    }
  }
  for (i = 1; i <= nbase; i++) {
    k = order["base", i]
    if (!(("now", k) in value)) {
      err("FAIL " label(k) ": in the baseline " base_file " (added " shown(value["base", k]) \
        ") but not in this run; drop its row with --update-baseline")
      fails++
    }
  }
  if (fails) {
    err(fails " row(s) off the baseline " base_file ". If the change is wanted, run" \
      " scripts/count-instructions --update-baseline and give the reason in the commit message.")
    exit 1
  }
  print prog ": every row within " shown(limit_t) " of the baseline " base_file " (" nbase " rows)"
  exit 0
}

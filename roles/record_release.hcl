# record_release: remember the release every replica now runs, and, when
# this run changed it, the one before (what -t rollback returns to). The
# previous one is written first, so that a run interrupted in between
# records it again when resumed. Included by deploy and compose_deploy with
# the local now_at: the release every replica now runs.

task "template" "record previous release" {
  when = local.previous != local.now_at
  src  = "../templates/release.tmpl"
  dest = local.previous_release
  vars = { version = local.previous }
}

task "template" "record release" {
  src  = "../templates/release.tmpl"
  dest = local.release
  vars = { version = local.now_at }
}

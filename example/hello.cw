# A script for the reference C worker, example/cworker.c (make builds it):
#
#   podrunner run --worker=custom:build/example/cworker example/hello.cw you
#
# and again with --allow-read=/etc/hostname.
print Hello, $1, from a C worker in a podrunner pod!
print arguments:
args
print reading /etc/hostname, after asking policyd:
cat /etc/hostname
print done

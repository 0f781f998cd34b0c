# The Slurm launcher against a real one-machine Slurm (scripts/slurm_local.sh
# starts munged, slurmctld and slurmd, the test stops them): a sweep, kill -9
# and resume, a job the cluster cancels, Ctrl-C. Needs root and slurm-wlm:
# SKIP (77) without them, a failure under CI=true.
add_test(NAME slurm_launcher
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm_test.sh ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(slurm_launcher PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS slurm)

# cmake -DPYTHON=python3 -DSRC=<source dir> -DOUT=<scratch dir> -P this
#
# Runs scripts/gen-dicom-tables into OUT and compares every generated file
# with the committed one in anonymizer/; fails on any difference.
set(generated anon_dict_gen.c anon_profile_gen.c anon_sop_gen.c)

file(REMOVE_RECURSE ${OUT})
file(MAKE_DIRECTORY ${OUT})
execute_process(
  COMMAND ${PYTHON} ${SRC}/scripts/gen-dicom-tables
          --tables ${SRC}/anonymizer/tables --out ${OUT}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gen-dicom-tables failed (${rc})")
endif()

set(stale "")
foreach(f ${generated})
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E compare_files ${SRC}/anonymizer/${f}
            ${OUT}/${f}
    RESULT_VARIABLE differ)
  if(NOT differ EQUAL 0)
    list(APPEND stale ${f})
    find_program(DIFF diff)
    if(DIFF)
      execute_process(COMMAND ${DIFF} -u ${SRC}/anonymizer/${f} ${OUT}/${f}
                      OUTPUT_VARIABLE d)
      string(SUBSTRING "${d}" 0 4000 d)
      message("${d}")
    endif()
  endif()
endforeach()
if(stale)
  message(FATAL_ERROR "generated tables differ from the committed ones: "
          "${stale}; run scripts/gen-dicom-tables and commit the result")
endif()
message("anonymizer tables up to date: ${generated}")

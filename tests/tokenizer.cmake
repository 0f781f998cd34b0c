# mstar::text's Hugging Face tokenizer against Hugging Face `tokenizers` and
# transformers on the real Qwen vocabulary (tests/fixtures/qwen-tokenizer).
# tokenizer_reference makes the reference at test time (cached by the hash of
# its inputs); tokenizer_test needs it, and skips naming why when the
# project's Python lacks those packages (fails under CI=true).
if(NOT DEFINED MSTAR_PYTHON)
  set(MSTAR_PYTHON "${CMAKE_SOURCE_DIR}/.venv/bin/python")
endif()
add_test(NAME tokenizer_reference
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer_reference.sh ${MSTAR_PYTHON} ${CMAKE_SOURCE_DIR}
                 ${CMAKE_BINARY_DIR}/tokenizer_reference)
set_tests_properties(tokenizer_reference PROPERTIES FIXTURES_SETUP tokenizer_reference TIMEOUT 600)
mstar_test(tokenizer_test SOURCES tokenizer_test.cpp LIBRARIES mstar::text
           PROPERTIES FIXTURES_REQUIRED tokenizer_reference)

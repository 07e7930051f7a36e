# Warnings on and clean for every kestrel target: kestrel_set_warnings(target).
function(kestrel_set_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow
                              -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual>)
  if(KESTREL_WERROR)
    target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
  endif()
endfunction()
